# scc-responder: SCC notification → Pub/Sub → Cloud Run function → GKE, and a
# summary to the ops topic. Files: scc.tf (notification config), pubsub.tf
# (topics and delivery), function.tf, iam.tf (service accounts and every
# grant), firestore.tf (ledger), evidence.tf (optional bucket), outputs.tf.

locals {
  # The projects that hold the clusters in scope: they get the container and
  # logging grants, and in project-scoped mode one SCC notification config each.
  cluster_projects = toset([for c in var.clusters : split("/", c)[1]])

  org_mode = var.organization_id != ""

  # The only findings the responder handles. Parenthesised clauses: in SCC
  # filters OR binds tighter than AND, so an unparenthesised OR in an extra
  # clause would silently widen the filter.
  scc_filter_base = "category = \"Unexpected Child Shell\" AND state = \"ACTIVE\""
  scc_filter      = var.scc_filter_extra == "" ? local.scc_filter_base : "(${local.scc_filter_base}) AND (${var.scc_filter_extra})"

  function_name = "${var.name_prefix}-fn"

  source_zip = var.function_source_zip != "" ? var.function_source_zip : "${path.module}/../.build/function-source.zip"

  # Environment variable => Secret Manager secret id: the ops webhooks and the routes'
  # (whose names the validation keeps apart from the ops ones).
  webhook_secrets = merge(
    var.slack_webhook_secret != "" ? { SLACK_WEBHOOK_URL = var.slack_webhook_secret } : {},
    var.chat_webhook_secret != "" ? { CHAT_WEBHOOK_URL = var.chat_webhook_secret } : {},
    var.route_webhook_secrets,
  )

  labels = merge({ app = "scc-responder" }, var.labels)
}

# APIs the stack uses in the host project. Left enabled on destroy: other
# workloads in the project may depend on them. Every resource below depends on
# these (directly or through a reference), so nothing is created before the API
# that serves it is on.
resource "google_project_service" "host" {
  for_each = toset(concat(
    [
      # deploy.sh enables these two before the first plan (Terraform cannot enable
      # an API without them); listed so the stack states everything it uses.
      "cloudresourcemanager.googleapis.com", # project IAM grants, here and in the cluster projects
      "serviceusage.googleapis.com",         # enabling the rest; the Pub/Sub service agent
      "artifactregistry.googleapis.com",     # the function's images
      "cloudbuild.googleapis.com",           # builds the function from source
      "cloudfunctions.googleapis.com",
      "container.googleapis.com", # getCluster
      "firestore.googleapis.com",
      "iam.googleapis.com", # service accounts, custom roles (also those in the cluster projects)
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "securitycenter.googleapis.com", # notification configs; the function's write-back is billed here too
      "storage.googleapis.com",
    ],
    var.delivery == "eventarc" ? ["eventarc.googleapis.com"] : [],
    # Essential Contacts answers for organizations and folders too, which have no project to
    # bill: it bills the caller's quota project, the function account's project (this one).
    var.essential_contacts ? ["essentialcontacts.googleapis.com"] : [],
  ))
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
