# The responder: a Cloud Run function (gen2, Node 22) built from the package
# deploy.sh writes (the esbuild bundle in dist/, package.json, package-lock.json
# for the Google clients it leaves external, the policy).

resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = var.region
  labels                      = local.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # holds only build inputs

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.host]
}

# The function's images. Cloud Run keeps serving the image of the live revision;
# older builds are only history.
resource "google_artifact_registry_repository" "function" {
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-images"
  description   = "Images Cloud Build makes of the scc-responder function"
  format        = "DOCKER"
  labels        = local.labels

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "30d"
    }
  }

  depends_on = [google_project_service.host]
}

resource "google_storage_bucket_object" "source" {
  # The content hash in the name makes a changed package a new object, which
  # makes Terraform redeploy the function; an unchanged one is a no-op.
  name   = "function-source-${filemd5(local.source_zip)}.zip"
  bucket = google_storage_bucket.source.name
  source = local.source_zip
}

resource "google_cloudfunctions2_function" "responder" {
  project     = var.project_id
  location    = var.region
  name        = local.function_name
  description = "Responds to SCC Unexpected Child Shell findings on GKE"
  labels      = local.labels

  build_config {
    runtime     = "nodejs22"
    entry_point = "sccResponder"
    # Cloud Build's identity (iam.tf): never the project's default build account,
    # which has no roles on new projects.
    service_account = local.build_service_account_name
    # Our own repository, so the build account can write to it and nothing else.
    docker_repository = google_artifact_registry_repository.function.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.function.email
    available_memory      = var.function_memory
    timeout_seconds       = var.function_timeout_seconds
    min_instance_count    = 0
    max_instance_count    = var.max_instances
    # One finding per instance: containment and the Logging quota budget are
    # per finding, and memory was sized for one.
    max_instance_request_concurrency = 1
    # Pub/Sub push and Eventarc from this project count as internal traffic:
    # nothing on the internet can reach the function, authenticated or not.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true

    # Every variable src/config.ts reads (test/terraform.test.ts checks it).
    environment_variables = {
      SCC_RESPONDER_POLICY_FILE   = var.policy_file
      SCC_RESPONDER_FORCE_DRY_RUN = var.force_dry_run ? "true" : "false"
      LOG_LEVEL                   = var.log_level
      OPS_TOPIC                   = google_pubsub_topic.ops.id
      FIRESTORE_DATABASE          = google_firestore_database.ledger.name
      LEDGER_COLLECTION           = var.ledger_collection
      # A live run never outlasts the timeout, so its claim need not either: a redelivery after
      # an instance died mid-run takes over this long after the claim, not after 10 minutes.
      LEDGER_LEASE_SECONDS = var.function_timeout_seconds + 60
      # Each Firestore call gives up after this long: a dead ledger is a named condition, not a hang
      # past the function timeout (the response goes on without dedupe and says so).
      LEDGER_TIMEOUT_SECONDS = 5
      # The delivery's time budget: actions, then evidence, and the summary always goes out.
      SCC_RESPONDER_TIMEOUT_SECONDS = var.function_timeout_seconds
      # Gen2 functions do not set it; the clients' default project (quota, Logging URLs).
      GOOGLE_CLOUD_PROJECT = var.project_id
      # Always set so the code sees "" (no bucket) rather than a missing variable.
      EVIDENCE_BUCKET = var.evidence_bucket
      # Cloud Run sets K_SERVICE, so "auto" would read Logging too; say it outright.
      SCC_RESPONDER_EVIDENCE = "on"
      # Marks (and, when the policy and scc_set_state allow, the state) on the finding; iam.tf grants it.
      SCC_WRITEBACK = var.scc_writeback ? "true" : "false"
      # The bundle's runtime flags (RUNTIME_NODE_OPTIONS in scripts/bundle.ts, which the bench
      # uses too): stack traces through the source maps to src/, a small young generation and
      # one V8 background thread, which keep peak memory for one finding under 128 MiB
      # (docs/performance.md).
      NODE_OPTIONS = "--enable-source-maps --max-semi-space-size=1 --v8-pool-size=1"
      # The V8 compile cache the package's gcp-build step filled with the runtime's own Node
      # (COMPILE_CACHE_DIR in scripts/bundle.ts; docs/performance.md). A cache that does not
      # match (another Node, other flags) is ignored by Node, never an error.
      NODE_COMPILE_CACHE = "/workspace/.compile-cache"
    }

    # Webhook URLs are credentials: read from Secret Manager at instance start,
    # never stored in Terraform state or the function's configuration.
    dynamic "secret_environment_variables" {
      for_each = local.webhook_secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = var.webhook_secret_version
      }
    }
  }

  # delivery = "eventarc": the managed trigger. RETRY_POLICY_RETRY because the
  # code acks permanent failures itself and throws only for transient ones.
  dynamic "event_trigger" {
    for_each = var.delivery == "eventarc" ? [1] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
      pubsub_topic          = google_pubsub_topic.findings.id
      service_account_email = google_service_account.trigger.email
      retry_policy          = "RETRY_POLICY_RETRY"
    }
  }

  depends_on = [
    google_project_service.host,
    google_secret_manager_secret_iam_member.function_reads_webhook,
    google_firestore_field.ledger_ttl,
    time_sleep.build_grants_propagate,
  ]
}

# The trigger identity (push subscription OIDC token or Eventarc) may invoke
# this function's service and nothing else.
resource "google_cloud_run_v2_service_iam_member" "trigger_invokes_function" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.responder.service_config[0].service
  role     = "roles/run.invoker" # invoke this one service
  member   = "serviceAccount:${google_service_account.trigger.email}"
}
