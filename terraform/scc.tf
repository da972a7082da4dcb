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

  depends_on = [google_project_service.host]
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

  depends_on = [google_project_service.host]
}

# SCC publishes as its own service agent (returned by each config): it may
# publish to the findings topic and nothing else. Several project configs
# usually share one agent, so the members are deduplicated into one
# authoritative binding: one additive member per config would let removing one
# project revoke the agent for all the others. Authoritative for this role on
# this topic only, which the stack owns: nothing but SCC should publish
# findings, and a publisher added by hand here is removed on the next apply
# (project-level rights, such as the test_finding_command's, are untouched).
resource "google_pubsub_topic_iam_binding" "scc_publishes_findings" {
  project = var.project_id
  topic   = google_pubsub_topic.findings.name
  role    = "roles/pubsub.publisher" # publish to this topic only
  members = sort(distinct(concat(
    [for c in google_scc_v2_organization_notification_config.findings : "serviceAccount:${c.service_account}"],
    [for c in google_scc_v2_project_notification_config.findings : "serviceAccount:${c.service_account}"],
  )))
}
