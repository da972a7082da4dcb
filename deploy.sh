#!/usr/bin/env bash
# Builds, tests, packages and deploys scc-responder with Terraform.
#
#   ./deploy.sh --var-file terraform/prod.tfvars [--policy policy.yaml] [--plan-only | --destroy] [--auto-approve]
#
# Safe to re-run: an unchanged build produces a byte-identical package, so
# Terraform has nothing to change. See docs/deploy.md.
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
  --destroy         Destroy the stack. Kept: the Firestore ledger (abandoned, not deleted)
                    and the evidence bucket (its objects are under retention).
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

# Terraform bills every call to the host project and needs Service Usage there
# to enable any API, and Resource Manager for project IAM: a new project has
# neither on. They are enabled here, before the first plan (gcloud can, with its
# own quota project); the stack enables everything else.
BOOTSTRAP_APIS=(serviceusage.googleapis.com cloudresourcemanager.googleapis.com)
project_id="$(sed -n \
  -e 's/^[[:space:]]*project_id[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
  -e 's/.*"project_id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' \
  "$var_file" | sed -n '$p')"
[ -n "$project_id" ] || die "could not read project_id = \"...\" from $var_file"
if [ "$mode" = "plan" ]; then
  # --plan-only changes nothing, APIs included: say what is missing instead.
  enabled_apis="$(gcloud services list --enabled --project="$project_id" --format='value(config.name)' 2>/dev/null || true)"
  missing=()
  for api in "${BOOTSTRAP_APIS[@]}"; do
    printf '%s\n' "$enabled_apis" | grep -qxF "$api" || missing+=("$api")
  done
  [ "${#missing[@]}" -eq 0 ] ||
    die "Terraform cannot plan until ${missing[*]} is enabled in $project_id: run 'gcloud services enable ${missing[*]} --project=$project_id' (or run deploy.sh without --plan-only, which does)"
elif [ "$mode" = "apply" ]; then
  step "Enabling the APIs Terraform itself needs in $project_id (${BOOTSTRAP_APIS[*]})"
  gcloud services enable "${BOOTSTRAP_APIS[@]}" --project="$project_id" ||
    die "could not enable ${BOOTSTRAP_APIS[*]} in $project_id (needs serviceusage.services.enable there, e.g. roles/serviceusage.serviceUsageAdmin)"
fi

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
  [ -f "$BUILD_DIR/function/warm-compile-cache.mjs" ] || die "npm run bundle did not produce $BUILD_DIR/function/warm-compile-cache.mjs"
  cp "$BUILD_DIR/function/warm-compile-cache.mjs" "$STAGE_DIR/warm-compile-cache.mjs"
  # dist/ is already bundled: the Cloud Build step must not run `prepare`/`build`
  # (no TypeScript, no src/ in the package). The Node.js buildpack runs "gcp-build"
  # instead, with the runtime's own Node: it fills the V8 compile cache the function
  # reads at start (NODE_COMPILE_CACHE). Dependencies are unchanged, so the lock file
  # stays in sync.
  (cd "$ROOT" && npm exec --no -- node -e '
    const fs = require("node:fs");
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
    pkg.scripts = { "gcp-build": "node warm-compile-cache.mjs" };
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

EVIDENCE_BUCKET_ADDRESS='google_storage_bucket.evidence[0]'

# $1: the evidence bucket taken out of the state, or empty.
left_in_place() {
  local bucket_line="  - no evidence bucket was managed by the stack (one that existed before, with
    create_evidence_bucket = false, is untouched; only the grants on it are gone),"
  if [ -n "$1" ]; then
    bucket_line="  - the evidence bucket $1: objects under retention cannot be deleted before their
    retention ends, so Terraform no longer manages it. To deploy again, set
    create_evidence_bucket = false to reuse it (or pick a new evidence_bucket name),"
  fi
  cat <<EOF

Left in place on purpose:
  - the Firestore ledger database (deletion protection; delete it in the console if you mean to),
$bucket_line
  - APIs enabled in the project, the Secret Manager secrets, and any ClusterRole/ClusterRoleBinding
    you applied (kubectl delete -f the files in .build/k8s/).
EOF
}

if [ "$mode" = "destroy" ]; then
  # Terraform still reads the package path; an empty placeholder is enough to destroy.
  if [ ! -f "$ZIP_PATH" ]; then
    mkdir -p "$BUILD_DIR"
    : >"$ZIP_PATH"
  fi
  step "terraform init"
  tf init -input=false

  # The evidence bucket cannot be destroyed while it holds objects under
  # retention (not even with force_destroy): take it out of the state, so the
  # destroy leaves it instead of failing on it. Before the plan, so the plan
  # shown is the one applied; put back if the destroy is not confirmed.
  kept_bucket=""
  state="$(tf state list 2>/dev/null || true)"
  if printf '%s\n' "$state" | grep -qxF "$EVIDENCE_BUCKET_ADDRESS"; then
    # The output exists from this version of the stack on; older states: the var file.
    kept_bucket="$(tf output -raw evidence_bucket 2>/dev/null || true)"
    [ -n "$kept_bucket" ] || kept_bucket="$(sed -n 's/^[[:space:]]*evidence_bucket[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$var_file" | sed -n '$p')"
    step "Keeping the evidence bucket $kept_bucket: removing it from the Terraform state"
    tf state rm "$EVIDENCE_BUCKET_ADDRESS"
  fi
  restore_bucket() {
    [ -n "$kept_bucket" ] || return 0
    tf import -input=false "${tf_vars[@]}" "$EVIDENCE_BUCKET_ADDRESS" "$project_id/$kept_bucket" ||
      printf 'deploy.sh: the evidence bucket %s is out of the Terraform state: terraform -chdir=terraform import %s %s/%s\n' \
        "$kept_bucket" "$EVIDENCE_BUCKET_ADDRESS" "$project_id" "$kept_bucket" >&2
  }

  step "terraform plan -destroy"
  if ! tf plan -destroy -input=false "${tf_vars[@]}" -out="$PLAN_PATH"; then
    restore_bucket
    die "terraform plan -destroy failed: nothing was destroyed"
  fi
  if ! (confirm "Destroy scc-responder"); then
    restore_bucket
    exit 1
  fi
  # Whatever the outcome, say what stays: a failed destroy must not hide it.
  destroy_status=0
  tf apply -input=false "$PLAN_PATH" || destroy_status=$?
  rm -f "$PLAN_PATH"
  if [ "$destroy_status" -eq 0 ]; then
    printf '\nDestroyed.\n'
  else
    printf '\nThe destroy did not finish (terraform exit %s): see the error above, fix it and re-run --destroy.\n' "$destroy_status"
  fi
  left_in_place "$kept_bucket"
  exit "$destroy_status"
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

# The ClusterRoles, rendered by Terraform from enabled_actions (the same
# permission set as the IAM custom role) and bound to the function's account.
K8S_DIR="$BUILD_DIR/k8s"
mkdir -p "$K8S_DIR"
tf output -raw cluster_role_manifest >"$K8S_DIR/clusterrole.yaml"
exec_manifest="$(tf output -raw exec_role_manifest)"
exec_role="$(tf output -raw exec_role_name)"
if [ -n "$exec_manifest" ]; then
  printf '%s\n' "$exec_manifest" >"$K8S_DIR/clusterrole-exec.yaml"
  exec_step="Where a rule enables capture-process-list (exec into the pod), also:
     kubectl apply -f .build/k8s/clusterrole-exec.yaml"
else
  rm -f "$K8S_DIR/clusterrole-exec.yaml"
  exec_step="No enabled action execs into pods; where an earlier deploy applied the exec role:
     kubectl delete clusterrolebinding,clusterrole $exec_role --ignore-not-found"
fi

release_manifest="$(tf output -raw release_role_manifest)"
if [ -n "$release_manifest" ]; then
  printf '%s\n' "$release_manifest" >"$K8S_DIR/clusterrole-release.yaml"
  exec_step="$exec_step
   For the people in release_subjects (scc-responder release):
     kubectl apply -f .build/k8s/clusterrole-release.yaml"
else
  rm -f "$K8S_DIR/clusterrole-release.yaml"
fi

cat <<EOF

Deployed. Next steps:

1. Kubernetes RBAC (needed when cluster_permissions_via_iam = false; a second, per-cluster
   layer otherwise), bound to $fn_sa. For each cluster in scope:
     gcloud container clusters get-credentials CLUSTER --location LOCATION --project PROJECT
     kubectl apply -f .build/k8s/clusterrole.yaml
   $exec_step

2. Send a test finding (SCC -> $findings_topic):
     $test_command

3. Watch what the responder did:
     $logs_command
   Summaries arrive on $ops_topic (and Slack / Google Chat if configured).

The responder stays in dry-run while force_dry_run = true: read the summaries, then see
docs/deploy.md "5. Roll out in dry-run, then enforce".
EOF
