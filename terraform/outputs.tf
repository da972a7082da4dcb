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
  description = "The function's identity: bind the ClusterRole in terraform/k8s/clusterrole.yaml to this email as a User."
  value       = google_service_account.function.email
}

output "trigger_service_account" {
  description = "Identity that invokes the function (push OIDC token / Eventarc)."
  value       = google_service_account.trigger.email
}

output "cluster_role_permissions" {
  description = "container.* permissions in the custom role granted on each cluster project."
  value       = module.cluster_permissions.permissions
}

output "scc_filter" {
  description = "The SCC notification filter."
  value       = local.scc_filter
}

output "test_finding_command" {
  description = "Publishes the sample v2 finding from the repository root (policy dry-run decides what happens; check the logs)."
  value       = "gcloud pubsub topics publish ${google_pubsub_topic.findings.id} --message=\"$(cat test/fixtures/notification-v2.json)\""
}

output "logs_command" {
  description = "Follow the function's structured logs."
  value       = "gcloud logging read 'resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloudfunctions2_function.responder.service_config[0].service}\"' --project=${var.project_id} --freshness=1h --limit=50 --format=json"
}
