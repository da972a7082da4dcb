output "findings_topic" {
  description = "Topic SCC publishes findings to."
  value       = google_pubsub_topic.findings.id
}

output "ops_topic" {
  description = "Topic the responder posts one summary per finding to: subscribe your tooling here."
  value       = google_pubsub_topic.ops.id
}

output "dead_letter_topic" {
  description = "Findings that failed max_delivery_attempts times (push delivery); kept on the dead-letter-hold subscription."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered findings for inspection or replay."
  value       = google_pubsub_subscription.dead_letter_hold.id
}

output "delivery" {
  description = "How findings reach the function."
  value       = var.delivery == "push" ? "push subscription ${google_pubsub_subscription.push[0].id} (OIDC, dead letter after ${var.max_delivery_attempts} attempts)" : "Eventarc trigger (RETRY_POLICY_RETRY, no dead-letter topic)"
}

output "function_name" {
  value = google_cloudfunctions2_function.responder.name
}

output "function_url" {
  description = "Internal-only URL of the function (ingress: internal)."
  value       = google_cloudfunctions2_function.responder.service_config[0].uri
}

output "function_service_account" {
  description = "The function's identity ($${name_prefix}-fn@PROJECT_ID.iam.gserviceaccount.com): the Kubernetes User the rendered ClusterRoleBindings name."
  value       = google_service_account.function.email
}

output "build_service_account" {
  description = "Identity Cloud Build uses to build the function (the deployer needs iam.serviceAccounts.actAs on it)."
  value       = local.build_service_account_email
}

output "trigger_service_account" {
  description = "Identity that invokes the function (push OIDC token / Eventarc)."
  value       = google_service_account.trigger.email
}

output "cluster_role_permissions" {
  description = "container.* permissions in the custom role granted on each cluster project."
  value       = module.cluster_permissions.permissions
}

# deploy.sh writes these to .build/k8s/ for `kubectl apply -f`: the same
# permission set as the custom role, rendered from enabled_actions.
output "cluster_role_manifest" {
  description = "ClusterRole + ClusterRoleBinding for the function's account: the preflight reads and the enabled actions (exec excepted)."
  value       = module.cluster_permissions.cluster_role_manifest
}

output "exec_role_manifest" {
  description = "ClusterRole + ClusterRoleBinding for exec into the pod (capture-process-list); empty unless that action is enabled."
  value       = module.cluster_permissions.exec_role_manifest
}

output "release_role_manifest" {
  description = "ClusterRole + ClusterRoleBinding for `scc-responder release`, bound to release_subjects; empty when none is named."
  value       = module.cluster_permissions.release_role_manifest
}

output "exec_role_name" {
  description = "Name of the exec ClusterRole and ClusterRoleBinding, to delete from clusters that no longer need it."
  value       = module.cluster_permissions.exec_role_name
}

output "scc_filter" {
  description = "The SCC notification filter."
  value       = local.scc_filter
}

output "test_finding_command" {
  description = "Publishes the sample v2 finding from the repository root (policy dry-run decides what happens; check the logs)."
  value       = "gcloud pubsub topics publish ${google_pubsub_topic.findings.id} --message=\"$(cat test/fixtures/notification-v2.json)\""
}

locals {
  # service_config[0].service is the full projects/P/locations/R/services/S name;
  # Cloud Run log entries carry only S in resource.labels.service_name.
  function_service_name = reverse(split("/", google_cloudfunctions2_function.responder.service_config[0].service))[0]
}

output "logs_command" {
  description = "Follow the function's structured logs."
  value       = "gcloud logging read 'resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.function_service_name}\"' --project=${var.project_id} --freshness=1h --limit=50 --format=json"
}

output "evidence_bucket" {
  description = "The evidence bucket (empty: none). deploy.sh --destroy leaves it in place: objects under retention cannot be deleted."
  value       = var.evidence_bucket
}

output "log_metric_types" {
  description = "Cloud Monitoring metric type of each log-based metric (docs/deploy.md, \"Metrics and alerts\"), for your own charts and alerts."
  value       = local.log_metric_types
}

output "dashboard_url" {
  description = "The responder's Cloud Monitoring dashboard."
  value       = "https://console.cloud.google.com/monitoring/dashboards/builder/${reverse(split("/", google_monitoring_dashboard.responder.id))[0]}?project=${var.project_id}"
}
