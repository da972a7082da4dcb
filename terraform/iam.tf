# Identities and every grant the stack makes. Least privilege: each grant is
# on the narrowest resource that works (a topic, a bucket, a secret, the
# function's service, one database) and no basic or admin role is used anywhere.

resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = local.function_name
  display_name = "scc-responder function"
  description  = "Runs the SCC responder: reads findings' clusters and logs, contains, reports."

  depends_on = [google_project_service.host]
}

resource "google_service_account" "trigger" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-trigger"
  display_name = "scc-responder trigger"
  description  = "Identity Pub/Sub (push OIDC token) or Eventarc uses to invoke the function; no other rights."

  depends_on = [google_project_service.host]
}

# Cloud Build's identity for the function's build. Not the project's default: on
# projects created since mid-2024 that is the Compute Engine default account,
# which the org policy iam.automaticIamGrantsForDefaultServiceAccounts leaves
# without any role, so the first build would fail.
resource "google_service_account" "build" {
  count = var.build_service_account == "" ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name_prefix}-build"
  display_name = "scc-responder build"
  description  = "Cloud Build identity that builds the scc-responder function: reads its source, writes its image and build logs."

  depends_on = [google_project_service.host]
}

locals {
  build_service_account_email = var.build_service_account != "" ? var.build_service_account : google_service_account.build[0].email
  # Cloud Build wants the account's full name, under the project the account
  # belongs to (which its email names), not necessarily the host project.
  build_service_account_name = "projects/${regex("@([a-z0-9-]+)\\.iam\\.gserviceaccount\\.com$", local.build_service_account_email)[0]}/serviceAccounts/${local.build_service_account_email}"
}

# ---------------------------------------------------------------- GKE access

# One place computes the cluster permissions from enabled_actions: the IAM
# custom role below and the ClusterRole manifests (outputs.tf) both come from it.
module "cluster_permissions" {
  source                = "./modules/cluster-permissions"
  enabled_actions       = var.enabled_actions
  grant_via_iam         = var.cluster_permissions_via_iam
  service_account_email = google_service_account.function.email
  release_subjects      = var.release_subjects
  name                  = var.name_prefix
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

  depends_on = [google_project_service.host]
}

resource "google_project_iam_member" "function_cluster_responder" {
  for_each = local.cluster_projects

  project = each.value
  role    = google_project_iam_custom_role.cluster_responder[each.value].name # the GKE actions above, nothing else
  member  = "serviceAccount:${google_service_account.function.email}"
}

# Evidence: pod, cluster audit and node serial-console logs of the cluster's
# project. roles/logging.viewer would also let the function read sinks, metrics,
# buckets and views; the evidence queries need only this one permission. Admin
# Activity audit logs are covered; data-access logs would need
# logging.privateLogEntries.list, which is deliberately not granted.
resource "google_project_iam_custom_role" "log_reader" {
  for_each = local.cluster_projects

  project     = each.value
  role_id     = replace("${var.name_prefix}_log_reader", "-", "_")
  title       = "scc-responder log reader"
  description = "Lists log entries (pod, cluster audit, node serial console) for the responder's evidence."
  permissions = ["logging.logEntries.list"]

  depends_on = [google_project_service.host]
}

resource "google_project_iam_member" "function_reads_logs" {
  for_each = local.cluster_projects

  project = each.value
  role    = google_project_iam_custom_role.log_reader[each.value].name # logging.logEntries.list for the evidence queries
  member  = "serviceAccount:${google_service_account.function.email}"
}

# ---------------------------------------------------------------- host project

# The response ledger (idempotency across redeliveries, blast-radius budget).
# roles/datastore.user is granted on the project, the only level Firestore
# roles take; the condition narrows it to the ledger database.
resource "google_project_iam_member" "function_uses_firestore" {
  project = var.project_id
  role    = "roles/datastore.user" # read/write documents in the ledger database only (condition)
  member  = "serviceAccount:${google_service_account.function.email}"

  condition {
    title       = "${var.name_prefix}-ledger-only"
    description = "The scc-responder ledger database, no other Firestore database in the project."
    expression  = "resource.name == \"${google_firestore_database.ledger.id}\""
  }
}

resource "google_pubsub_topic_iam_member" "function_publishes_ops" {
  project = var.project_id
  topic   = google_pubsub_topic.ops.name
  role    = "roles/pubsub.publisher" # post summaries to the ops topic only
  member  = "serviceAccount:${google_service_account.function.email}"
}

# The ops webhooks and each route's (route_webhook_secrets): exactly the secrets
# the function mounts, each on its own.
resource "google_secret_manager_secret_iam_member" "function_reads_webhook" {
  for_each = local.webhook_secrets

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor" # this one webhook secret, for the chat summary (ops or a route)
  member    = "serviceAccount:${google_service_account.function.email}"

  depends_on = [google_project_service.host]
}

# The policy's routes publish to their own topics, often in the team's project:
# the grant is on each topic, in the project the topic names.
resource "google_pubsub_topic_iam_member" "function_publishes_routes" {
  for_each = toset(var.route_topics)

  project = split("/", each.value)[1]
  topic   = split("/", each.value)[3]
  role    = "roles/pubsub.publisher" # post routed summaries to this route topic only
  member  = "serviceAccount:${google_service_account.function.email}"
}

# ---------------------------------------------------------------- SCC write-back and owners

# Granted where the notification config lives: the organization (organization_id
# set), else each cluster project, the lowest level these roles take. The
# findings the function writes back to are the ones that config sends it.
resource "google_organization_iam_member" "function_marks_findings" {
  count = var.scc_writeback && local.org_mode ? 1 : 0

  org_id = var.organization_id
  role   = "roles/securitycenter.findingSecurityMarksWriter" # securitycenter.findingsecuritymarks.update: the outcome marks on the finding, nothing else of it
  member = "serviceAccount:${google_service_account.function.email}"
}

resource "google_project_iam_member" "function_marks_findings" {
  for_each = var.scc_writeback && !local.org_mode ? local.cluster_projects : toset([])

  project = each.value
  role    = "roles/securitycenter.findingSecurityMarksWriter" # securitycenter.findingsecuritymarks.update: the outcome marks on the finding, nothing else of it
  member  = "serviceAccount:${google_service_account.function.email}"
}

# Off unless scc_set_state: the policy's scc.setInactive sets a finding INACTIVE
# once its pod is verifiably gone; without this role it cannot, whatever the policy says.
resource "google_organization_iam_member" "function_sets_finding_state" {
  count = var.scc_writeback && var.scc_set_state && local.org_mode ? 1 : 0

  org_id = var.organization_id
  role   = "roles/securitycenter.findingsStateSetter" # securitycenter.findings.setState: INACTIVE once the pod is gone, not mute or edit
  member = "serviceAccount:${google_service_account.function.email}"
}

resource "google_project_iam_member" "function_sets_finding_state" {
  for_each = var.scc_writeback && var.scc_set_state && !local.org_mode ? local.cluster_projects : toset([])

  project = each.value
  role    = "roles/securitycenter.findingsStateSetter" # securitycenter.findings.setState: INACTIVE once the pod is gone, not mute or edit
  member  = "serviceAccount:${google_service_account.function.email}"
}

# The owners in the summary: computeContacts on the cluster's project returns its
# SECURITY contacts and those inherited from its folders and organization, and
# needs essentialcontacts.contacts.list on that project only.
resource "google_organization_iam_member" "function_reads_contacts" {
  count = var.essential_contacts && local.org_mode ? 1 : 0

  org_id = var.organization_id
  role   = "roles/essentialcontacts.viewer" # essentialcontacts.contacts.get/list: read who the security contacts are, change none
  member = "serviceAccount:${google_service_account.function.email}"
}

resource "google_project_iam_member" "function_reads_contacts" {
  for_each = var.essential_contacts && !local.org_mode ? local.cluster_projects : toset([])

  project = each.value
  role    = "roles/essentialcontacts.viewer" # essentialcontacts.contacts.get/list: read who the security contacts are, change none
  member  = "serviceAccount:${google_service_account.function.email}"
}

# scc_set_state without scc_writeback grants nothing: say so at plan time.
check "scc_set_state_needs_writeback" {
  assert {
    condition     = var.scc_writeback || !var.scc_set_state
    error_message = "scc_set_state = true has no effect while scc_writeback = false: the function writes nothing back to SCC."
  }
}

# ---------------------------------------------------------------- Cloud Build

# What the build identity needs to build a Cloud Run function from source,
# each on the narrowest resource that works.
resource "google_project_iam_member" "build_writes_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter" # build logs (log writing has no narrower resource)
  member  = "serviceAccount:${local.build_service_account_email}"

  depends_on = [google_project_service.host]
}

resource "google_artifact_registry_repository_iam_member" "build_pushes_image" {
  project    = var.project_id
  location   = google_artifact_registry_repository.function.location
  repository = google_artifact_registry_repository.function.name
  role       = "roles/artifactregistry.writer" # push the built image to the function's own repository only
  member     = "serviceAccount:${local.build_service_account_email}"
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer" # read the packaged source
  member = "serviceAccount:${local.build_service_account_email}"
}

# Cloud Functions copies the source into buckets it creates itself
# (gcf-v2-sources-PROJECT_NUMBER-REGION, and the upload buckets), and the build
# reads it from there: they do not exist before the first deploy, so the grant
# is on the project, narrowed to those buckets by name.
resource "google_project_iam_member" "build_reads_staged_source" {
  project = var.project_id
  role    = "roles/storage.objectViewer" # the function source Cloud Functions stages, nothing else (condition)
  member  = "serviceAccount:${local.build_service_account_email}"

  condition {
    title       = "${var.name_prefix}-function-sources"
    description = "Objects in the buckets Cloud Functions stages function sources in."
    expression  = "resource.type == \"storage.googleapis.com/Object\" && (resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\") || resource.name.startsWith(\"projects/_/buckets/gcf-v2-uploads-\") || resource.name.startsWith(\"projects/_/buckets/run-sources-\"))"
  }

  depends_on = [google_project_service.host]
}

# IAM changes take about a minute to reach the services that check them: a build
# started right after the grants fails on a fresh project.
resource "time_sleep" "build_grants_propagate" {
  create_duration = "60s"

  triggers = {
    build_service_account = local.build_service_account_email
  }

  depends_on = [
    google_project_iam_member.build_writes_logs,
    google_artifact_registry_repository_iam_member.build_pushes_image,
    google_storage_bucket_iam_member.build_reads_source,
    google_project_iam_member.build_reads_staged_source,
  ]
}

# ---------------------------------------------------------------- Pub/Sub agent

# The Pub/Sub service agent may not exist yet on a new project (Google creates
# some agents on first use): granting to a missing account fails. This creates
# it, and names it.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.host]
}

# Dead-lettering: the Pub/Sub service agent must be able to publish to the
# dead-letter topic and to ack the original on the source subscription.
resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters" {
  count = var.delivery == "push" ? 1 : 0

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher" # forward undeliverable findings to the dead-letter topic
  member  = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_dead_lettered" {
  count = var.delivery == "push" ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.push[0].name
  role         = "roles/pubsub.subscriber" # ack a finding once it is dead-lettered
  member       = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# Both deliveries are an authenticated Pub/Sub push (ours, or the subscription
# Eventarc creates), and the Pub/Sub agent mints its OIDC token as the trigger
# account. Projects whose agent was enabled before April 2021 do not give it
# this right by default; scoped to the trigger account, it can mint tokens for
# that account only.
resource "google_service_account_iam_member" "pubsub_agent_signs_push" {
  service_account_id = google_service_account.trigger.name
  role               = "roles/iam.serviceAccountTokenCreator" # sign push OIDC tokens as the trigger account
  member             = "serviceAccount:${google_project_service_identity.pubsub.email}"
}
