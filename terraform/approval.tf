# Approval from Slack (Contain / Dismiss), off unless slack_approval = true.
# Two more functions from the same source package (docs/approval.md):
# - the interactivity endpoint (entry point sccResponderSlack, HTTP), which Slack
#   calls on a button press. It runs as its own service account, which may only
#   read the signing secret and publish to the approvals topic: the one part of
#   the stack the internet can reach holds no cluster, ledger or Logging rights;
# - the approval consumer (entry point sccResponderApproval), fed by a push
#   subscription on the approvals topic. It acts on clusters, so it runs as the
#   responder's own service account, with the responder's settings and secrets.
# Everything this feature adds is in this file, its variables included.

# ---------------------------------------------------------------- variables

variable "slack_approval" {
  description = "Deploy Slack approval (policy rules with approval: required): the interactivity endpoint, the approvals topic and the approval consumer. Needs slack_signing_secret."
  type        = bool
  default     = false
}

variable "slack_signing_secret" {
  description = "Secret Manager secret id holding the Slack app's signing secret (SLACK_SIGNING_SECRET of the endpoint). Required with slack_approval."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{1,255})?$", var.slack_signing_secret))
    error_message = "slack_signing_secret must be a secret id (letters, digits, _ or -), or empty."
  }
}

variable "slack_bot_token_secret" {
  description = "Secret Manager secret id holding a Slack bot token with usergroups:read (SLACK_BOT_TOKEN of the consumer): approvers listed as user groups are resolved with it. Empty = only user ids approve."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{1,255})?$", var.slack_bot_token_secret))
    error_message = "slack_bot_token_secret must be a secret id (letters, digits, _ or -), or empty."
  }
}

variable "slack_team_id" {
  description = "Only clicks from this Slack workspace (T…) or Enterprise Grid organization (E…) are accepted. Empty = any workspace the app is installed in."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([TE][A-Z0-9]{2,20})?$", var.slack_team_id))
    error_message = "slack_team_id must be a Slack team id such as T0123ABCD, or empty."
  }
}

variable "slack_endpoint_min_instances" {
  description = "Instances of the interactivity endpoint kept warm. Slack waits 3 seconds for an answer; a cold start is usually within that, 1 makes it certain (and is billed while idle)."
  type        = number
  default     = 0

  validation {
    condition     = var.slack_endpoint_min_instances >= 0 && var.slack_endpoint_min_instances <= 3 && floor(var.slack_endpoint_min_instances) == var.slack_endpoint_min_instances
    error_message = "slack_endpoint_min_instances must be a whole number between 0 and 3."
  }
}

locals {
  approval_count = var.slack_approval ? 1 : 0
  # The consumer mounts what the responder mounts (it sends the approved run's summary to the
  # same sinks), plus the bot token when group approvers are to be resolved.
  approval_consumer_secrets = merge(
    local.webhook_secrets,
    var.slack_approval && var.slack_bot_token_secret != "" ? { SLACK_BOT_TOKEN = var.slack_bot_token_secret } : {},
  )
}

# ---------------------------------------------------------------- topic

resource "google_pubsub_topic" "approvals" {
  count = local.approval_count

  project = var.project_id
  name    = "${var.name_prefix}-approvals"
  labels  = local.labels
  # A decision is worth acting on for as long as the approval lasts, not for days.
  message_retention_duration = "86400s"

  depends_on = [google_project_service.host]
}

# Approval requests the consumer kept failing on land here, not back in the retry loop.
resource "google_pubsub_topic" "approvals_dead_letter" {
  count = local.approval_count

  project = var.project_id
  name    = "${var.name_prefix}-approvals-dead-letter"
  labels  = local.labels

  depends_on = [google_project_service.host]
}

resource "google_pubsub_subscription" "approvals_dead_letter_hold" {
  count = local.approval_count

  project                    = var.project_id
  name                       = "${var.name_prefix}-approvals-dead-letter-hold"
  topic                      = google_pubsub_topic.approvals_dead_letter[0].id
  labels                     = local.labels
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# ---------------------------------------------------------------- the interactivity endpoint

resource "google_service_account" "slack" {
  count = local.approval_count

  project      = var.project_id
  account_id   = "${var.name_prefix}-slack"
  display_name = "scc-responder Slack endpoint"
  description  = "Runs the Slack interactivity endpoint: checks Slack's signature, queues approval requests. No other rights."

  depends_on = [google_project_service.host]
}

resource "google_secret_manager_secret_iam_member" "slack_reads_signing_secret" {
  count = local.approval_count

  project   = var.project_id
  secret_id = var.slack_signing_secret
  role      = "roles/secretmanager.secretAccessor" # the Slack signing secret only, to verify each request
  member    = "serviceAccount:${google_service_account.slack[0].email}"

  depends_on = [google_project_service.host]
}

resource "google_pubsub_topic_iam_member" "slack_publishes_approvals" {
  count = local.approval_count

  project = var.project_id
  topic   = google_pubsub_topic.approvals[0].name
  role    = "roles/pubsub.publisher" # queue approval requests on the approvals topic only
  member  = "serviceAccount:${google_service_account.slack[0].email}"
}

resource "google_cloudfunctions2_function" "slack" {
  count = local.approval_count

  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-slack"
  description = "Slack interactivity endpoint of scc-responder: verifies the signature, queues Contain / Dismiss"
  labels      = local.labels

  build_config {
    runtime           = "nodejs22"
    entry_point       = "sccResponderSlack"
    service_account   = local.build_service_account_name
    docker_repository = google_artifact_registry_repository.function.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.slack[0].email
    available_memory                 = "256Mi"
    timeout_seconds                  = 10
    min_instance_count               = var.slack_endpoint_min_instances
    max_instance_count               = 3
    max_instance_request_concurrency = 1
    # Slack calls from the internet and cannot present a Google identity: the request
    # signature, checked on every request, is the authentication (see the invoker grant below).
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    environment_variables = {
      APPROVAL_TOPIC       = google_pubsub_topic.approvals[0].id
      GOOGLE_CLOUD_PROJECT = var.project_id
      SLACK_TEAM_ID        = var.slack_team_id
      LOG_LEVEL            = var.log_level
    }

    secret_environment_variables {
      key        = "SLACK_SIGNING_SECRET"
      project_id = var.project_id
      secret     = var.slack_signing_secret
      version    = var.webhook_secret_version
    }
  }

  lifecycle {
    precondition {
      condition     = var.slack_signing_secret != ""
      error_message = "slack_approval = true needs slack_signing_secret: without it the endpoint cannot tell Slack's requests from anyone else's."
    }
  }

  depends_on = [
    google_project_service.host,
    google_secret_manager_secret_iam_member.slack_reads_signing_secret,
    time_sleep.build_grants_propagate,
  ]
}

# Unauthenticated invocation, on this one service: Slack cannot obtain a Google
# identity token, so Cloud Run lets the request through and the code refuses
# every one whose X-Slack-Signature (HMAC-SHA256 with the signing secret, within
# 5 minutes) does not verify. Organizations that enforce domain-restricted
# sharing (iam.allowedPolicyMemberDomains) must allow allUsers for this service.
resource "google_cloud_run_v2_service_iam_member" "anyone_invokes_slack_endpoint" {
  count = local.approval_count

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.slack[0].service_config[0].service
  role     = "roles/run.invoker" # Slack's button presses reach the endpoint; its signature check is the gate
  member   = "allUsers"
}

# ---------------------------------------------------------------- the approval consumer

resource "google_cloudfunctions2_function" "approval" {
  count = local.approval_count

  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-approval"
  description = "Carries out Slack approvals for scc-responder: checks each against the ledger and policy, runs the approved response"
  labels      = local.labels

  build_config {
    runtime           = "nodejs22"
    entry_point       = "sccResponderApproval"
    service_account   = local.build_service_account_name
    docker_repository = google_artifact_registry_repository.function.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    # The responder's identity: an approved Contain acts on the cluster with the same grants.
    service_account_email            = google_service_account.function.email
    available_memory                 = var.function_memory
    timeout_seconds                  = var.function_timeout_seconds
    min_instance_count               = 0
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 1
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    # The responder's settings, as they are: the same policy, kill switch, ledger and sinks.
    environment_variables = google_cloudfunctions2_function.responder.service_config[0].environment_variables

    dynamic "secret_environment_variables" {
      for_each = local.approval_consumer_secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = var.webhook_secret_version
      }
    }
  }

  depends_on = [
    google_project_service.host,
    google_secret_manager_secret_iam_member.function_reads_webhook,
    google_secret_manager_secret_iam_member.function_reads_bot_token,
    time_sleep.build_grants_propagate,
  ]
}

resource "google_secret_manager_secret_iam_member" "function_reads_bot_token" {
  count = var.slack_approval && var.slack_bot_token_secret != "" ? 1 : 0

  project   = var.project_id
  secret_id = var.slack_bot_token_secret
  role      = "roles/secretmanager.secretAccessor" # the Slack bot token only, to list the members of approver user groups
  member    = "serviceAccount:${google_service_account.function.email}"

  depends_on = [google_project_service.host]
}

resource "google_cloud_run_v2_service_iam_member" "trigger_invokes_approval" {
  count = local.approval_count

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.approval[0].service_config[0].service
  role     = "roles/run.invoker" # deliver approval requests to the consumer
  member   = "serviceAccount:${google_service_account.trigger.email}"
}

resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters_approvals" {
  count = local.approval_count

  project = var.project_id
  topic   = google_pubsub_topic.approvals_dead_letter[0].name
  role    = "roles/pubsub.publisher" # forward approval requests the consumer kept failing on
  member  = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_dead_lettered_approvals" {
  count = local.approval_count

  project      = var.project_id
  subscription = google_pubsub_subscription.approvals_push[0].name
  role         = "roles/pubsub.subscriber" # ack an approval request once it is dead-lettered
  member       = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# The same shape as the findings' push subscription (pubsub.tf): OIDC push of the
# trigger account to a path naming the topic (so the framework converts it into
# the CloudEvent), bounded retries with backoff, then the dead-letter topic.
resource "google_pubsub_subscription" "approvals_push" {
  count = local.approval_count

  project = var.project_id
  name    = "${var.name_prefix}-approvals-push"
  topic   = google_pubsub_topic.approvals[0].id
  labels  = local.labels

  ack_deadline_seconds       = var.function_timeout_seconds + 30
  message_retention_duration = "86400s"

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.approval[0].service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.approvals[0].name}"

    oidc_token {
      service_account_email = google_service_account.trigger.email
      audience              = google_cloudfunctions2_function.approval[0].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "${var.retry_minimum_backoff_seconds}s"
    maximum_backoff = "${var.retry_maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.approvals_dead_letter[0].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.trigger_invokes_approval,
    google_pubsub_topic_iam_member.pubsub_agent_dead_letters_approvals,
  ]
}

# ---------------------------------------------------------------- outputs

output "slack_interactivity_url" {
  description = "Paste into the Slack app: Interactivity & Shortcuts → Request URL. Null without slack_approval."
  value       = var.slack_approval ? google_cloudfunctions2_function.slack[0].service_config[0].uri : null
}

output "approvals_topic" {
  description = "Topic the Slack endpoint queues approval requests on. Null without slack_approval."
  value       = var.slack_approval ? google_pubsub_topic.approvals[0].id : null
}
