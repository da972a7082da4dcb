# User settings. Copy terraform.tfvars.example, fill it in, and pass it to
# ./deploy.sh --var-file FILE. Every value is checked here so a typo fails at
# plan time, not when the first finding arrives.

# ---------------------------------------------------------------- where it runs

variable "project_id" {
  description = "Project that hosts the responder (function, topics, Firestore, buckets)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lowercase letters, digits or hyphens, starting with a letter)."
  }
}

variable "region" {
  description = "Region of the function, its trigger and the buckets, e.g. europe-west1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (topics, service accounts, function, role)."
  type        = string
  default     = "scc-responder"

  validation {
    # Service account ids are at most 30 characters: prefix + "-fn"/"-trigger" must fit.
    condition     = can(regex("^[a-z][a-z0-9-]{2,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 4-20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

# ------------------------------------------------------------- what it watches

variable "organization_id" {
  description = "Numeric organization ID: one SCC notification config for the whole organization. Leave empty for project-scoped mode (one config per project in scope)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([0-9]{1,20})?$", var.organization_id))
    error_message = "organization_id must be the numeric organization ID, or empty for project-scoped mode."
  }
}

variable "clusters" {
  description = "GKE clusters the responder may act on, as projects/P/locations/L/clusters/C. Their projects get the container and logging grants."
  type        = list(string)

  validation {
    condition     = length(var.clusters) > 0
    error_message = "clusters must list at least one cluster."
  }

  validation {
    condition = alltrue([
      for c in var.clusters : can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z0-9-]+/clusters/[a-z]([a-z0-9-]{0,38}[a-z0-9])?$", c))
    ])
    error_message = "clusters: each entry must be projects/PROJECT_ID/locations/LOCATION/clusters/NAME."
  }
}

variable "scc_filter_extra" {
  description = "Optional extra SCC filter clause ANDed onto the Unexpected Child Shell filter, e.g. a project restriction. It is parenthesised for you (OR binds tighter than AND in SCC filters, but be explicit)."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------- what it does

variable "enabled_actions" {
  description = "Actions the policy may run. The cluster permissions granted are derived from this list: leave out what you will never enable. capture-process-list (exec into the pod) is off unless listed."
  type        = list(string)
  default     = ["label-pod", "isolate-pod", "cordon-node", "evict-pod", "delete-pod"]
  # Validated in modules/cluster-permissions (one source of truth for action names).
}

variable "release_subjects" {
  description = "Who may run `scc-responder release` in the clusters (Kubernetes subjects: {kind = \"User\" or \"Group\", name = email}); deploy.sh renders their ClusterRole to .build/k8s/clusterrole-release.yaml. Empty: no release role."
  type        = list(object({ kind = string, name = string }))
  default     = []
}

variable "cluster_permissions_via_iam" {
  description = "true: a custom IAM role on each cluster project grants the Kubernetes permissions the enabled actions need. false: IAM grants only container.clusters.get and you apply the ClusterRole rendered from enabled_actions (deploy.sh writes .build/k8s/clusterrole.yaml) in each cluster (finer grained: per cluster instead of per project)."
  type        = bool
  default     = true
}

variable "policy_file" {
  description = "Path of the policy YAML inside the deployed source (deploy.sh packages your --policy file as policy.yaml). Sets SCC_RESPONDER_POLICY_FILE."
  type        = string
  default     = "policy.yaml"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]+\\.ya?ml$", var.policy_file)) && !startswith(var.policy_file, "/") && !strcontains(var.policy_file, "..")
    error_message = "policy_file must be a relative .yaml/.yml path inside the function source, without \"..\"."
  }
}

variable "force_dry_run" {
  description = "Kill switch (SCC_RESPONDER_FORCE_DRY_RUN): true forces dry-run whatever the policy says. Start with true; set false only after the dry-run summaries look right."
  type        = bool
  default     = true
}

variable "log_level" {
  description = "Lowest severity the function logs (LOG_LEVEL). Above INFO, the findings_ignored metric counts nothing (the out-of-scope line is INFO)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, NOTICE, WARNING, ERROR."
  }
}

# ---------------------------------------------------------------- where it reports

variable "ops_topic" {
  description = "Name of the Pub/Sub topic (created in project_id) that receives one summary per handled finding."
  type        = string
  default     = "scc-responder-ops"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", var.ops_topic)) && !startswith(lower(var.ops_topic), "goog")
    error_message = "ops_topic must be a Pub/Sub topic name: 3-255 characters, starting with a letter, not starting with \"goog\"."
  }
}

variable "slack_webhook_secret" {
  description = "Secret Manager secret id holding the Slack incoming-webhook URL (SLACK_WEBHOOK_URL). Empty = no Slack."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{1,255})?$", var.slack_webhook_secret))
    error_message = "slack_webhook_secret must be a secret id (letters, digits, _ or -), or empty."
  }
}

variable "chat_webhook_secret" {
  description = "Secret Manager secret id holding the Google Chat webhook URL (CHAT_WEBHOOK_URL). Empty = no Google Chat."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{1,255})?$", var.chat_webhook_secret))
    error_message = "chat_webhook_secret must be a secret id (letters, digits, _ or -), or empty."
  }
}

variable "route_webhook_secrets" {
  description = "Webhooks of the policy's routes: environment variable name (a route's slackWebhookEnv or chatWebhookEnv) => Secret Manager secret id (in project_id) holding that webhook URL. Each is mounted as that variable at instance start; the function may read these secrets and no others. The function does not start if a route names a variable missing here."
  type        = map(string)
  default     = {}

  validation {
    # The policy's WEBHOOK_ENV_NAME (src/core/policy/policy.ts): the suffix keeps a route from naming any other variable.
    condition     = alltrue([for name in keys(var.route_webhook_secrets) : can(regex("^[A-Z][A-Z0-9_]{0,50}_WEBHOOK_URL$", name)) && !contains(["SLACK_WEBHOOK_URL", "CHAT_WEBHOOK_URL"], name)])
    error_message = "route_webhook_secrets: each name must be an environment variable ending in _WEBHOOK_URL (as a route's slackWebhookEnv / chatWebhookEnv), and not SLACK_WEBHOOK_URL or CHAT_WEBHOOK_URL (those are slack_webhook_secret and chat_webhook_secret)."
  }

  validation {
    condition     = alltrue([for id in values(var.route_webhook_secrets) : can(regex("^[A-Za-z0-9_-]{1,255}$", id))])
    error_message = "route_webhook_secrets: each value must be a secret id (letters, digits, _ or -)."
  }
}

variable "route_topics" {
  description = "Pub/Sub topics of the policy's routes (each route's pubsubTopic), as projects/PROJECT/topics/TOPIC, in any project. The function may publish to each of them and to no other topic. They are not created here: a team's topic lives with the team."
  type        = list(string)
  default     = []

  validation {
    # The policy's TOPIC_NAME (src/core/policy/policy.ts).
    condition     = alltrue([for t in var.route_topics : can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", t)) && !can(regex("/topics/[Gg][Oo][Oo][Gg]", t))])
    error_message = "route_topics: each entry must be projects/PROJECT_ID/topics/TOPIC (a topic name of 3-255 characters, starting with a letter, not with \"goog\")."
  }

  validation {
    condition     = length(distinct(var.route_topics)) == length(var.route_topics)
    error_message = "route_topics: a topic is listed twice."
  }
}

variable "webhook_secret_version" {
  description = "Secret version read at instance start. \"latest\" picks up a rotated webhook on the next cold start; pin a number to control rollout."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^(latest|[1-9][0-9]*)$", var.webhook_secret_version))
    error_message = "webhook_secret_version must be \"latest\" or a version number."
  }
}

# ---------------------------------------------------------------- SCC write-back and owners

variable "scc_writeback" {
  description = "Write the response back to the SCC finding (SCC_WRITEBACK): security marks (outcome, incident id, time, summary id; the policy's scc.marks), and the state change the policy's scc.setInactive allows when scc_set_state is true. Grants roles/securitycenter.findingSecurityMarksWriter where the notification config lives (the organization, or each cluster project)."
  type        = bool
  default     = true
}

variable "scc_set_state" {
  description = "Also grant roles/securitycenter.findingsStateSetter (where the notification config lives), so the policy's scc.setInactive: when-pod-gone can set a finding INACTIVE. Off by default; has no effect without scc_writeback."
  type        = bool
  default     = false
}

variable "essential_contacts" {
  description = "Let the function read the SECURITY contacts of the cluster projects, inherited ones included (Essential Contacts; the policy's owners.essentialContacts): roles/essentialcontacts.viewer where the notification config lives, and the Essential Contacts API in project_id (the calls are billed there)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------- state and evidence

variable "firestore_database" {
  description = "Firestore (native mode) database created for the response ledger (FIRESTORE_DATABASE)."
  type        = string
  default     = "scc-responder"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be 4-63 lowercase letters, digits or hyphens, starting with a letter (\"(default)\" is not managed here)."
  }
}

variable "firestore_location" {
  description = "Firestore location (a region such as europe-west1 or a multi-region such as nam5). Empty = region."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z]+-[a-z]+[0-9]+|nam[0-9]+|eur[0-9]+)?$", var.firestore_location))
    error_message = "firestore_location must be a region, a multi-region (nam5, eur3), or empty."
  }
}

variable "ledger_collection" {
  description = "Firestore collection of the response ledger; its expireAt field gets a TTL policy."
  type        = string
  default     = "scc-responder-ledger"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,100}$", var.ledger_collection))
    error_message = "ledger_collection must be a collection id (letters, digits, _ or -)."
  }
}

variable "evidence_bucket" {
  description = "Bucket for evidence bundles (EVIDENCE_BUCKET). Empty = evidence stays in the logs and the summary only."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])?$", var.evidence_bucket))
    error_message = "evidence_bucket must be a bucket name (3-63 lowercase letters, digits, ., _ or -), or empty."
  }
}

variable "create_evidence_bucket" {
  description = "true: create evidence_bucket (uniform access, public access prevention, retention). false: it exists already; only the grants are made."
  type        = bool
  default     = true
}

variable "evidence_retention_days" {
  description = "Retention period of the created evidence bucket: objects cannot be deleted or replaced before it ends (so the bucket outlives deploy.sh --destroy while it holds any)."
  type        = number
  default     = 90

  validation {
    condition     = var.evidence_retention_days >= 1 && var.evidence_retention_days <= 3650 && floor(var.evidence_retention_days) == var.evidence_retention_days
    error_message = "evidence_retention_days must be a whole number of days between 1 and 3650."
  }
}

# ---------------------------------------------------------------- the function

# Sized from `npm run bench` (docs/performance.md): one matching finding peaks at
# ~165-185 MiB RSS (Logging client loaded for evidence after containment), too close to
# 256Mi to survive a larger finding or heap growth. 512Mi also doubles the CPU share
# Cloud Run gives a gen2 function (0.167 → 0.333 vCPU), and cold start is CPU-bound
# module loading: time-to-contain.
variable "function_memory" {
  description = "Memory per instance (and, with it, the CPU share). See docs/performance.md for the figures behind the default."
  type        = string
  default     = "512Mi"

  validation {
    condition     = contains(["256Mi", "512Mi", "1Gi", "2Gi", "4Gi"], var.function_memory)
    error_message = "function_memory must be one of 256Mi, 512Mi, 1Gi, 2Gi, 4Gi."
  }
}

# 120 s from the bench: containment takes ~1.5 s from a cold start (more at a fractional
# vCPU), evidence is bounded by policy evidence.quotaBudgetSeconds (20 s) plus one
# 10 s request, and each Kubernetes request by 15 s; 120 s covers a slow API server
# without letting a stuck run hold its finding's ledger claim for long.
variable "function_timeout_seconds" {
  description = "Time one finding may take (containment + evidence). Also sets the push subscription's ack deadline."
  type        = number
  default     = 120

  validation {
    # 540 s is the ceiling for event-driven functions; the ack deadline (timeout + 30 s) must stay <= 600 s.
    condition     = var.function_timeout_seconds >= 30 && var.function_timeout_seconds <= 540 && floor(var.function_timeout_seconds) == var.function_timeout_seconds
    error_message = "function_timeout_seconds must be a whole number between 30 and 540."
  }
}

variable "max_instances" {
  description = "Upper bound on concurrent instances: caps the load on the GKE API and the Cloud Logging read quota during a storm of findings."
  type        = number
  default     = 5

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 100 && floor(var.max_instances) == var.max_instances
    error_message = "max_instances must be a whole number between 1 and 100."
  }
}

variable "function_source_zip" {
  description = "The packaged function source (deploy.sh writes .build/function-source.zip). Empty = that default path."
  type        = string
  default     = ""
}

variable "build_service_account" {
  description = "Optional existing service account (email) Cloud Build uses to build the function; the stack grants it what the build needs. Empty = the stack creates NAME_PREFIX-build (never the project's default build account, which has no roles on new projects)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([a-z0-9-]+@[a-z0-9.-]+\\.iam\\.gserviceaccount\\.com)?$", var.build_service_account))
    error_message = "build_service_account must be a service account email, or empty."
  }
}

# ---------------------------------------------------------------- delivery

variable "delivery" {
  description = "\"push\" (default): our own push subscription with OIDC auth, bounded retries and a dead-letter topic. \"eventarc\": the function's managed Eventarc trigger with RETRY_POLICY_RETRY (Eventarc keeps an undelivered finding 24 hours, then drops it; no dead-letter topic)."
  type        = string
  default     = "push"

  validation {
    condition     = contains(["push", "eventarc"], var.delivery)
    error_message = "delivery must be \"push\" or \"eventarc\"."
  }
}

variable "max_delivery_attempts" {
  description = "Push delivery: attempts before a finding goes to the dead-letter topic."
  type        = number
  default     = 15

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "retry_minimum_backoff_seconds" {
  description = "Push delivery: first retry delay after a transient failure."
  type        = number
  default     = 10

  validation {
    condition     = var.retry_minimum_backoff_seconds >= 0 && var.retry_minimum_backoff_seconds <= 600
    error_message = "retry_minimum_backoff_seconds must be between 0 and 600."
  }
}

variable "retry_maximum_backoff_seconds" {
  description = "Push delivery: longest delay between retries (exponential backoff stops growing here)."
  type        = number
  default     = 600

  validation {
    condition     = var.retry_maximum_backoff_seconds >= 10 && var.retry_maximum_backoff_seconds <= 600
    error_message = "retry_maximum_backoff_seconds must be between 10 and 600."
  }
}

# ---------------------------------------------------------------- monitoring

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channels (projects/P/notificationChannels/ID) the two alert policies, containment action failed and blast-radius budget exceeded, notify. Empty = the alerts open incidents in the console and notify no one."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.alert_notification_channels : can(regex("^projects/[a-z0-9-]+/notificationChannels/[0-9]+$", c))])
    error_message = "alert_notification_channels: each entry must be projects/PROJECT/notificationChannels/ID (gcloud beta monitoring channels list prints them)."
  }
}
