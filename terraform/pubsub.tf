# Topics: findings in (from SCC), summaries out (ops), and the dead-letter
# topic where a finding lands after max_delivery_attempts failed deliveries.

resource "google_pubsub_topic" "findings" {
  project = var.project_id
  name    = "${var.name_prefix}-findings"
  labels  = local.labels
  # Kept 7 days so a finding can be replayed (seek) after an outage or a fix.
  message_retention_duration = "604800s"

  depends_on = [google_project_service.host]
}

resource "google_pubsub_topic" "ops" {
  project = var.project_id
  name    = var.ops_topic
  labels  = local.labels

  depends_on = [google_project_service.host]
}

resource "google_pubsub_topic" "dead_letter" {
  project = var.project_id
  name    = "${var.name_prefix}-dead-letter"
  labels  = local.labels

  depends_on = [google_project_service.host]
}

# A topic without a subscription drops what is published to it: this one
# keeps dead-lettered findings for inspection and replay, and never expires.
resource "google_pubsub_subscription" "dead_letter_hold" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = local.labels
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# delivery = "push": our own push subscription to the function. Pub/Sub signs
# each push with an OIDC token of the trigger service account; the function
# only accepts invokers with roles/run.invoker. The endpoint path carries
# projects/P/topics/T because the functions framework turns a raw Pub/Sub push
# into the CloudEvent the handler expects only when the path names the topic.
resource "google_pubsub_subscription" "push" {
  count = var.delivery == "push" ? 1 : 0

  project = var.project_id
  name    = "${var.name_prefix}-push"
  topic   = google_pubsub_topic.findings.id
  labels  = local.labels

  # The function may take function_timeout_seconds; give it a margin before
  # Pub/Sub considers the push lost and redelivers.
  ack_deadline_seconds       = var.function_timeout_seconds + 30
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.responder.service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.findings.name}"

    oidc_token {
      service_account_email = google_service_account.trigger.email
      # Cloud Run checks the audience against the service URL (not the path).
      audience = google_cloudfunctions2_function.responder.service_config[0].uri
    }
  }

  # Transient failures (the handler throws: GKE 5xx/429, timeouts) retry with
  # exponential backoff; permanent ones are acked by the code itself.
  retry_policy {
    minimum_backoff = "${var.retry_minimum_backoff_seconds}s"
    maximum_backoff = "${var.retry_maximum_backoff_seconds}s"
  }

  # After max_delivery_attempts the finding goes to the dead-letter topic
  # instead of being retried for 7 days.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.trigger_invokes_function,
    google_pubsub_topic_iam_member.pubsub_agent_dead_letters,
  ]
}
