# Security Command Center streams every new or updated finding matching the
# filter to the findings topic. v2 resources (locations/global); the responder
# decodes both v1 and v2 payloads.

resource "google_scc_v2_organization_notification_config" "findings" {
  count = local.org_mode ? 1 : 0

  organization = var.organization_id
  location     = "global"
  config_id    = "${var.name_prefix}-child-shell"
  description  = "Unexpected Child Shell findings to scc-responder"
  pubsub_topic = google_pubsub_topic.findings.id

  streaming_config {
    filter = local.scc_filter
  }
}

# Project-scoped mode (no organization access): one config per cluster project.
resource "google_scc_v2_project_notification_config" "findings" {
  for_each = local.org_mode ? toset([]) : local.cluster_projects

  project      = each.value
  location     = "global"
  config_id    = "${var.name_prefix}-child-shell"
  description  = "Unexpected Child Shell findings to scc-responder"
  pubsub_topic = google_pubsub_topic.findings.id

  streaming_config {
    filter = local.scc_filter
  }
}

# SCC publishes as its own service agent (returned by the config): it may
# publish to the findings topic and nothing else.
resource "google_pubsub_topic_iam_member" "scc_publishes_findings" {
  # Keys are known at plan time (the agent emails are not). Several project
  # configs may share one agent: the duplicate bindings are harmless.
  for_each = merge(
    { for i, c in google_scc_v2_organization_notification_config.findings : "organization" => c.service_account },
    { for p, c in google_scc_v2_project_notification_config.findings : "project/${p}" => c.service_account },
  )

  project = var.project_id
  topic   = google_pubsub_topic.findings.name
  role    = "roles/pubsub.publisher" # publish to this topic only
  member  = "serviceAccount:${each.value}"
}
