#!/usr/bin/env bash
# Builds, tests, packages and deploys scc-responder with Terraform.
#
#   ./deploy.sh --var-file terraform/prod.tfvars [--policy policy.yaml] [--plan-only | --destroy] [--auto-approve]
#
# Safe to re-run: an unchanged build produces a byte-identical package, so
# Terraform has nothing to change. See README.md, "Deploy".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TF_DIR="$ROOT/terraform"
BUILD_DIR="$ROOT/.build"
STAGE_DIR="$BUILD_DIR/function-source"
ZIP_PATH="$BUILD_DIR/function-source.zip"
PLAN_PATH="$BUILD_DIR/tfplan"

mode="apply"
var_file=""
policy_file="$ROOT/policy.yaml"
auto_approve="false"

usage() {
  cat <<'EOF'
Usage: ./deploy.sh --var-file FILE [options]

  --var-file FILE   Terraform variables (copy terraform/terraform.tfvars.example). Required.
  --policy FILE     Response policy packaged with the function as policy.yaml
                    (default: ./policy.yaml; start from examples/policy.yaml).
  --plan-only       Build, test, package and show the Terraform plan; change nothing.
  --destroy         Destroy the stack (the Firestore ledger is abandoned, not deleted).
  --auto-approve    Do not ask before applying or destroying (CI).
  -h, --help        This help.
EOF
}

die() {
  printf 'deploy.sh: error: %s\n' "$*" >&2
  exit 1
}

step() {
  printf '\n==> %s\n' "$*"
}

while [ "$#" -gt 0 ]; do
  case "$1" in
    --var-file)
      [ "$#" -ge 2 ] || die "--var-file needs a file"
      var_file="$2"
      shift 2
      ;;
    --var-file=*)
      var_file="${1#*=}"
      shift
      ;;
    --policy)
      [ "$#" -ge 2 ] || die "--policy needs a file"
      policy_file="$2"
      shift 2
      ;;
    --policy=*)
      policy_file="${1#*=}"
      shift
      ;;
    --plan-only)
      [ "$mode" = "apply" ] || die "--plan-only and --destroy exclude each other"
      mode="plan"
      shift
      ;;
    --destroy)
      [ "$mode" = "apply" ] || die "--plan-only and --destroy exclude each other"
      mode="destroy"
      shift
      ;;
    --auto-approve)
      auto_approve="true"
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      die "unknown argument: $1"
      ;;
  esac
done

[ -n "$var_file" ] || {
  usage >&2
  die "--var-file is required (copy terraform/terraform.tfvars.example and fill it in)"
}
[ -f "$var_file" ] || die "var file not found: $var_file"
# Terraform runs in terraform/: hand it an absolute path.
var_file="$(cd "$(dirname "$var_file")" && pwd)/$(basename "$var_file")"
if [ "$mode" != "destroy" ]; then
  [ -f "$policy_file" ] || die "policy file not found: $policy_file (copy examples/policy.yaml to policy.yaml and edit it, or pass --policy FILE)"
  policy_file="$(cd "$(dirname "$policy_file")" && pwd)/$(basename "$policy_file")"
fi

# ------------------------------------------------------------------ prerequisites

step "Checking prerequisites"
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"
}
need gcloud "install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"
need terraform "install Terraform >= 1.5: https://developer.hashicorp.com/terraform/install"
need node "install Node.js >= 18 (npm ci then brings the project's own Node 22)"
need npm "npm comes with Node.js"
if [ "$mode" != "destroy" ]; then
  need zip "install zip (Debian/Ubuntu: apt-get install zip)"
fi

account="$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null || true)"
[ -n "$account" ] || die "gcloud has no active account: run 'gcloud auth login'"
# The Terraform Google provider uses Application Default Credentials.
gcloud auth application-default print-access-token >/dev/null 2>&1 ||
  die "no Application Default Credentials for Terraform: run 'gcloud auth application-default login'"
echo "gcloud account: $account"

# ------------------------------------------------------------------ build and package

build_and_package() {
  step "Installing, testing and building (npm ci, npm test, npm run build, npm run bundle)"
  # build: dist/ (the CLI, below). bundle: .build/function/, the function that ships.
  (cd "$ROOT" && npm ci --no-audit --no-fund && npm test && npm run build && npm run bundle)

  step "Checking the policy $policy_file"
  # The CLI just built, on the project's Node 22 (npm exec puts node_modules/.bin first).
  (cd "$ROOT" && npm exec --no -- node dist/cli.js validate-policy "$policy_file") ||
    die "the policy does not validate: fix it before deploying"

  step "Packaging the function source into ${ZIP_PATH#"$ROOT"/}"
  rm -rf "$STAGE_DIR"
  mkdir -p "$STAGE_DIR"
  # The esbuild bundle (scripts/bundle.ts): our code in dist/ with source maps, client-node,
  # and yaml in dist/vendor/, the default policy; the Google clients stay in
  # node_modules (from the lock file).
  [ -f "$BUILD_DIR/function/dist/index.js" ] || die "npm run bundle did not produce $BUILD_DIR/function/dist/index.js"
  cp -R "$BUILD_DIR/function/dist" "$STAGE_DIR/dist"
  cp -R "$BUILD_DIR/function/policy" "$STAGE_DIR/policy"
  cp "$ROOT/package-lock.json" "$STAGE_DIR/package-lock.json"
  cp "$policy_file" "$STAGE_DIR/policy.yaml"
  # dist/ is already bundled: the Cloud Build step must not run `prepare`/`build`
  # (no TypeScript, no src/ in the package). "gcp-build": "" tells the Node.js
  # buildpack to skip the build; dependencies are unchanged, so the lock file stays in sync.
  (cd "$ROOT" && npm exec --no -- node -e '
    const fs = require("node:fs");
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
    pkg.scripts = { "gcp-build": "" };
    fs.writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
  ' "$STAGE_DIR/package.json")

  # Byte-identical output for identical input: fixed timestamps, sorted entries,
  # no extra attributes. Terraform names the object by its hash, so an unchanged
  # build deploys nothing.
  find "$STAGE_DIR" -type d -exec chmod 0755 {} +
  find "$STAGE_DIR" -type f -exec chmod 0644 {} +
  find "$STAGE_DIR" -exec env TZ=UTC touch -h -t 198001010000 {} +
  rm -f "$ZIP_PATH"
  (cd "$STAGE_DIR" && LC_ALL=C find . -type f | LC_ALL=C sort | sed 's|^\./||' | TZ=UTC zip -q -X -D "$ZIP_PATH" -@)
  echo "package: $ZIP_PATH ($(wc -c <"$ZIP_PATH") bytes)"
}

# ------------------------------------------------------------------ terraform

tf() {
  terraform -chdir="$TF_DIR" "$@"
}

tf_vars=(-var-file="$var_file" -var="function_source_zip=$ZIP_PATH")

confirm() {
  [ "$auto_approve" = "true" ] && return 0
  [ -t 0 ] || die "$1 needs confirmation: re-run in a terminal or pass --auto-approve"
  local answer
  read -r -p "$1? Type 'yes' to continue: " answer
  [ "$answer" = "yes" ] || die "cancelled"
}

if [ "$mode" = "destroy" ]; then
  # Terraform still reads the package path; an empty placeholder is enough to destroy.
  if [ ! -f "$ZIP_PATH" ]; then
    mkdir -p "$BUILD_DIR"
    : >"$ZIP_PATH"
  fi
  step "terraform init"
  tf init -input=false
  step "terraform plan -destroy"
  tf plan -destroy -input=false "${tf_vars[@]}" -out="$PLAN_PATH"
  confirm "Destroy scc-responder"
  tf apply -input=false "$PLAN_PATH"
  rm -f "$PLAN_PATH"
  cat <<'EOF'

Destroyed. Left in place on purpose:
  - the Firestore ledger database (deletion protection; delete it in the console if you mean to),
  - the evidence bucket if it still holds objects under retention,
  - APIs enabled in the project, the Secret Manager secrets, and any ClusterRole/ClusterRoleBinding
    you applied (kubectl delete -f the file you applied).
EOF
  exit 0
fi

build_and_package

step "terraform init"
tf init -input=false
step "terraform plan"
tf plan -input=false "${tf_vars[@]}" -out="$PLAN_PATH"

if [ "$mode" = "plan" ]; then
  rm -f "$PLAN_PATH"
  echo
  echo "Plan only: nothing was changed. Re-run without --plan-only to apply."
  exit 0
fi

confirm "Apply this plan"
step "terraform apply"
tf apply -input=false "$PLAN_PATH"
rm -f "$PLAN_PATH"

fn_sa="$(tf output -raw function_service_account)"
findings_topic="$(tf output -raw findings_topic)"
ops_topic="$(tf output -raw ops_topic)"
logs_command="$(tf output -raw logs_command)"
test_command="$(tf output -raw test_finding_command)"

cat <<EOF

Deployed. Next steps:

1. Kubernetes RBAC (needed when cluster_permissions_via_iam = false; a second, per-cluster
   layer otherwise). For each cluster in scope:
     gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT
     sed 's/\${service_account_email}/$fn_sa/g' terraform/k8s/clusterrole.yaml | kubectl apply -f -
   Only where a rule enables capture-process-list (exec into the pod), also:
     sed 's/\${service_account_email}/$fn_sa/g' terraform/k8s/clusterrole-capture.yaml | kubectl apply -f -

2. Send a test finding (SCC -> $findings_topic):
     $test_command

3. Watch what the responder did:
     $logs_command
   Summaries arrive on $ops_topic (and Slack / Google Chat if configured).

The responder stays in dry-run while force_dry_run = true: read the summaries, then see
README.md "Deploy" > "Switching to enforcement".
EOF
