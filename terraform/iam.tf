# Identities and every grant the stack makes. Least privilege: each grant is
# on the narrowest resource that works (a topic, a bucket, a secret, the
# function's service) and no basic or admin role is used anywhere.

resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-fn"
  display_name = "scc-responder function"
  description  = "Runs the SCC responder: reads findings' clusters and logs, contains, reports."
}

resource "google_service_account" "trigger" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-trigger"
  display_name = "scc-responder trigger"
  description  = "Identity Pub/Sub (push OIDC token) or Eventarc uses to invoke the function; no other rights."
}

# ---------------------------------------------------------------- GKE access

module "cluster_permissions" {
  source          = "./modules/cluster-permissions"
  enabled_actions = var.enabled_actions
  grant_via_iam   = var.cluster_permissions_via_iam
}

# Exactly the container.* permissions the enabled actions need, instead of
# roles/container.developer (cannot patch nodes) or container.admin (far too
# much). Custom roles live in a project, so one per cluster project.
resource "google_project_iam_custom_role" "cluster_responder" {
  for_each = local.cluster_projects

  project     = each.value
  role_id     = replace("${var.name_prefix}_cluster_responder", "-", "_")
  title       = "scc-responder cluster access"
  description = "Reads a suspect pod and its node and applies the enabled containment actions (${join(", ", var.enabled_actions)})."
  permissions = module.cluster_permissions.permissions
}

resource "google_project_iam_member" "function_cluster_responder" {
  for_each = local.cluster_projects

  project = each.value
  role    = google_project_iam_custom_role.cluster_responder[each.value].name # the GKE actions above, nothing else
  member  = "serviceAccount:${google_service_account.function.email}"
}

# Evidence: pod, cluster audit and node serial-console logs of the cluster's
# project. Admin Activity audit logs are covered; data-access logs would need
# roles/logging.privateLogViewer, which is deliberately not granted.
resource "google_project_iam_member" "function_reads_logs" {
  for_each = local.cluster_projects

  project = each.value
  role    = "roles/logging.viewer" # logging.logEntries.list for the evidence queries
  member  = "serviceAccount:${google_service_account.function.email}"
}

# ---------------------------------------------------------------- host project

# The response ledger (idempotency across redeliveries, blast-radius budget).
# roles/datastore.user is project-wide by nature; the function's code only
# opens FIRESTORE_DATABASE.
resource "google_project_iam_member" "function_uses_firestore" {
  project = var.project_id
  role    = "roles/datastore.user" # read/write documents in the ledger database
  member  = "serviceAccount:${google_service_account.function.email}"
}

resource "google_pubsub_topic_iam_member" "function_publishes_ops" {
  project = var.project_id
  topic   = google_pubsub_topic.ops.name
  role    = "roles/pubsub.publisher" # post summaries to the ops topic only
  member  = "serviceAccount:${google_service_account.function.email}"
}

resource "google_secret_manager_secret_iam_member" "function_reads_webhook" {
  for_each = local.webhook_secrets

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor" # this one webhook secret, for the chat summary
  member    = "serviceAccount:${google_service_account.function.email}"
}

# ---------------------------------------------------------------- Pub/Sub agent

# Dead-lettering: the Pub/Sub service agent must be able to publish to the
# dead-letter topic and to ack the original on the source subscription.
resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters" {
  count = var.delivery == "push" ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher" # forward undeliverable findings to the dead-letter topic
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_dead_lettered" {
  count = var.delivery == "push" ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.push[0].name
  role         = "roles/pubsub.subscriber" # ack a finding once it is dead-lettered
  member       = local.pubsub_service_agent
}

# Projects created before April 2021 do not give the Pub/Sub agent this right
# by default; scoped to the trigger account, it can mint OIDC tokens for that
# account only.
resource "google_service_account_iam_member" "pubsub_agent_signs_push" {
  count = var.delivery == "push" ? 1 : 0

  service_account_id = google_service_account.trigger.name
  role               = "roles/iam.serviceAccountTokenCreator" # sign push OIDC tokens as the trigger account
  member             = local.pubsub_service_agent
}
