# Metrics, alerts and a dashboard from the function's structured log lines
# (src/log.ts: one JSON line per step; Cloud Logging puts it into jsonPayload,
# with `severity` moved to the entry). No code change is needed to count
# anything: each metric is a filter on the `step` (and a few fields) the code
# already writes. test/metrics.test.ts runs the pipeline, captures those lines
# and evaluates every filter and extractor below against them.
#
# Labels come only from values the code chooses (action types, statuses, sink
# names, outcomes): never from a finding's fields, which are attacker-controlled
# and would make the number of time series unbounded.

locals {
  # The function's own entries. Cloud Run functions (gen2) log as the revision of
  # their Cloud Run service, which the entry names by its short name only.
  function_log_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.function_service_name}\""

  # The Cloud Monitoring type of each log-based metric, for the alerts, the
  # dashboard and your own charts (output log_metric_types).
  log_metric_types = {
    findings_received   = "logging.googleapis.com/user/${google_logging_metric.findings_received.name}"
    findings_in_scope   = "logging.googleapis.com/user/${google_logging_metric.findings_in_scope.name}"
    findings_ignored    = "logging.googleapis.com/user/${google_logging_metric.findings_ignored.name}"
    actions             = "logging.googleapis.com/user/${google_logging_metric.actions.name}"
    containment_latency = "logging.googleapis.com/user/${google_logging_metric.containment_latency.name}"
    sink_failures       = "logging.googleapis.com/user/${google_logging_metric.sink_failures.name}"
    budget_refusals     = "logging.googleapis.com/user/${google_logging_metric.budget_refusals.name}"
  }

  # Time series of these metrics carry the entries' monitored resource.
  metric_resource_filter = "resource.type=\"cloud_run_revision\""
}

# ---------------------------------------------------------------- findings

# Every delivery of a decoded finding ends its decision in exactly one of two
# lines: `scope` (out of scope, INFO) or `plan` (in scope, NOTICE). Malformed
# messages (`decode` WARNING) are not findings and are not counted.
resource "google_logging_metric" "findings_received" {
  project     = var.project_id
  name        = "${var.name_prefix}/findings_received"
  description = "Deliveries of a decoded finding to the responder, in scope or not (a redelivered finding counts again)."
  filter      = "${local.function_log_filter} AND (jsonPayload.step=\"scope\" OR jsonPayload.step=\"plan\")"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "scc-responder findings received"
  }

  depends_on = [google_project_service.host]
}

resource "google_logging_metric" "findings_in_scope" {
  project     = var.project_id
  name        = "${var.name_prefix}/findings_in_scope"
  description = "Deliveries of a finding the responder handles (a plan was made: acted on, dry-run or report only)."
  filter      = "${local.function_log_filter} AND jsonPayload.step=\"plan\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "scc-responder findings in scope"
  }

  depends_on = [google_project_service.host]
}

resource "google_logging_metric" "findings_ignored" {
  project     = var.project_id
  name        = "${var.name_prefix}/findings_ignored"
  description = "Findings acked as out of scope (another category, not a GKE cluster, not ACTIVE, muted). Needs LOG_LEVEL INFO or lower."
  filter      = "${local.function_log_filter} AND jsonPayload.step=\"scope\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "scc-responder findings ignored"
  }

  depends_on = [google_project_service.host]
}

# ---------------------------------------------------------------- actions

# One `action:<type>` line per action per delivery, with its outcome in `status`
# (done, already, would, skipped, partial, ineffective, pending, failed). A pending
# action that is retried counts once per round: pending, then its final status.
resource "google_logging_metric" "actions" {
  project     = var.project_id
  name        = "${var.name_prefix}/actions"
  description = "Containment actions by type and outcome (status), one point per action per delivery."
  filter      = "${local.function_log_filter} AND jsonPayload.step=~\"^action:\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "scc-responder actions"

    labels {
      key         = "action"
      value_type  = "STRING"
      description = "The action: label-pod, isolate-pod, cordon-node, evict-pod, delete-pod, capture-process-list."
    }
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "Its outcome: done, already, would (dry-run), skipped, partial, ineffective, pending, failed."
    }
  }

  label_extractors = {
    action = "REGEXP_EXTRACT(jsonPayload.step, \"^action:(.+)$\")"
    status = "EXTRACT(jsonPayload.status)"
  }

  depends_on = [google_project_service.host]
}

# The summary line (step `summary`, the whole summary document in
# jsonPayload.summary) of every response that planned actions: report-only and
# excepted findings run none, and their ~0 ms would only drag the percentiles down.
resource "google_logging_metric" "containment_latency" {
  project     = var.project_id
  name        = "${var.name_prefix}/containment_latency"
  description = "Time from the start of containment to the last action outcome (summary timings.containmentMs), per response that planned actions, by overall outcome."
  filter      = "${local.function_log_filter} AND jsonPayload.step=\"summary\" AND NOT jsonPayload.summary.outcome=\"report-only\" AND NOT jsonPayload.summary.outcome=\"excepted\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "scc-responder containment latency"

    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "The response's overall outcome: contained, partial, failed, dry-run, skipped."
    }
  }

  value_extractor = "EXTRACT(jsonPayload.summary.timings.containmentMs)"
  label_extractors = {
    outcome = "EXTRACT(jsonPayload.summary.outcome)"
  }

  # 100 ms doubling to ~819 s: past the longest function timeout (540 s).
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 13
      growth_factor      = 2
      scale              = 100
    }
  }

  depends_on = [google_project_service.host]
}

# ---------------------------------------------------------------- reporting

# One `sink:<name>` ERROR line per sink that could not take the summary in a
# delivery (after its in-delivery retries), whether the message is retried or not.
resource "google_logging_metric" "sink_failures" {
  project     = var.project_id
  name        = "${var.name_prefix}/sink_failures"
  description = "Summary deliveries that failed, by sink (pubsub, slack, chat)."
  filter      = "${local.function_log_filter} AND jsonPayload.step=~\"^sink:\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "scc-responder summary delivery failures"

    labels {
      key         = "sink"
      value_type  = "STRING"
      description = "The sink that failed."
    }
  }

  label_extractors = {
    sink = "REGEXP_EXTRACT(jsonPayload.step, \"^sink:(.+)$\")"
  }

  depends_on = [google_project_service.host]
}

# Summaries whose destructive actions the blast-radius budget refused. Refusals
# because no budget store could be asked ("no budget: …") are not "exceeded" and
# are not counted: they show as skipped actions and in the summary's warnings.
resource "google_logging_metric" "budget_refusals" {
  project     = var.project_id
  name        = "${var.name_prefix}/budget_refusals"
  description = "Responses in which the blast-radius budget refused at least one destructive action (summary budget.exceeded)."
  filter      = "${local.function_log_filter} AND jsonPayload.step=\"summary\" AND jsonPayload.summary.budget.exceeded=true"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "scc-responder budget refusals"
  }

  depends_on = [google_project_service.host]
}

# ---------------------------------------------------------------- alerts

# Cloud Monitoring learns of a new log-based metric a while after Logging has
# created it; an alert policy created before then fails with "Cannot find
# metric(s) that match type" (hashicorp/terraform-provider-google#11102). If the
# first apply still fails so, run deploy.sh again: it resumes there.
resource "time_sleep" "log_metrics_reach_monitoring" {
  create_duration = "120s"

  triggers = {
    metric_types = join(",", sort(values(local.log_metric_types)))
  }
}

resource "google_monitoring_alert_policy" "action_failed" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: containment action failed"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "An action ended failed"

    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_types.actions}\" AND ${local.metric_resource_filter} AND metric.label.status=\"failed\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      # Any failure in the last 5 minutes; one incident per action type.
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.action"]
      }

      trigger {
        count = 1
      }
    }
  }

  # Failures are sparse: with no new points the incident closes after this long.
  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name_prefix}: a containment action failed"
    content   = <<-EOT
      A containment action on a suspect pod or node ended **failed** (after its retries): the pod may still be running unconstrained.
      Read the finding's summary (ops topic, chat, or the `summary` log line) for which action and why, then act by hand.
      Logs: `${local.function_log_filter} AND jsonPayload.step=~"^action:" AND jsonPayload.status="failed"`.
      See docs/deploy.md, "Metrics and alerts".
    EOT
  }

  depends_on = [google_project_service.host, time_sleep.log_metrics_reach_monitoring]
}

resource "google_monitoring_alert_policy" "budget_exceeded" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: blast-radius budget exceeded"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "The budget refused destructive actions"

    condition_threshold {
      filter          = "metric.type=\"${local.log_metric_types.budget_refusals}\" AND ${local.metric_resource_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name_prefix}: blast-radius budget exceeded"
    content   = <<-EOT
      The blast-radius budget (policy `budget`) refused destructive actions: more findings than it allows hit one cluster or namespace in its window.
      Those pods were only labelled or isolated, if at all. A storm of real findings, or one noisy workload: read the summaries (`budget.denied` names the actions and the limit) and decide by hand.
      Logs: `${local.function_log_filter} AND jsonPayload.step="summary" AND jsonPayload.summary.budget.exceeded=true`.
      See docs/deploy.md, "Metrics and alerts".
    EOT
  }

  depends_on = [google_project_service.host, time_sleep.log_metrics_reach_monitoring]
}

# ---------------------------------------------------------------- dashboard

resource "google_monitoring_dashboard" "responder" {
  project = var.project_id

  # A grid layout: tiles need no positions (a mosaic's zero x/y would come back
  # omitted from the API and show as a diff on every plan).
  dashboard_json = jsonencode({
    displayName = "${var.name_prefix}: SCC responder"
    gridLayout = {
      columns = "2"
      widgets = [
        {
          title = "Findings received, in scope, ignored (per 5 min)"
          xyChart = {
            dataSets = [
              for name in ["findings_received", "findings_in_scope", "findings_ignored"] : {
                plotType       = "LINE"
                legendTemplate = replace(trimprefix(name, "findings_"), "_", " ")
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = "metric.type=\"${local.log_metric_types[name]}\" AND ${local.metric_resource_filter}"
                    aggregation = {
                      alignmentPeriod    = "300s"
                      perSeriesAligner   = "ALIGN_SUM"
                      crossSeriesReducer = "REDUCE_SUM"
                    }
                  }
                }
              }
            ]
          }
        },
        {
          title = "Actions by type and outcome (per 5 min)"
          xyChart = {
            dataSets = [{
              plotType = "STACKED_BAR"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = "metric.type=\"${local.log_metric_types.actions}\" AND ${local.metric_resource_filter}"
                  aggregation = {
                    alignmentPeriod    = "300s"
                    perSeriesAligner   = "ALIGN_SUM"
                    crossSeriesReducer = "REDUCE_SUM"
                    groupByFields      = ["metric.label.action", "metric.label.status"]
                  }
                }
              }
            }]
          }
        },
        {
          title = "Containment latency (p50, p95, p99)"
          xyChart = {
            dataSets = [
              for p in ["50", "95", "99"] : {
                plotType       = "LINE"
                legendTemplate = "p${p}"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = "metric.type=\"${local.log_metric_types.containment_latency}\" AND ${local.metric_resource_filter}"
                    aggregation = {
                      alignmentPeriod    = "300s"
                      perSeriesAligner   = "ALIGN_DELTA"
                      crossSeriesReducer = "REDUCE_PERCENTILE_${p}"
                    }
                  }
                }
              }
            ]
          }
        },
        {
          title = "Summary delivery failures by sink, budget refusals (per 5 min)"
          xyChart = {
            dataSets = [
              {
                plotType = "STACKED_BAR"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = "metric.type=\"${local.log_metric_types.sink_failures}\" AND ${local.metric_resource_filter}"
                    aggregation = {
                      alignmentPeriod    = "300s"
                      perSeriesAligner   = "ALIGN_SUM"
                      crossSeriesReducer = "REDUCE_SUM"
                      groupByFields      = ["metric.label.sink"]
                    }
                  }
                }
              },
              {
                plotType       = "STACKED_BAR"
                legendTemplate = "budget refusals"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = "metric.type=\"${local.log_metric_types.budget_refusals}\" AND ${local.metric_resource_filter}"
                    aggregation = {
                      alignmentPeriod    = "300s"
                      perSeriesAligner   = "ALIGN_SUM"
                      crossSeriesReducer = "REDUCE_SUM"
                    }
                  }
                }
              },
            ]
          }
        },
        {
          title = "What these mean"
          text = {
            format  = "MARKDOWN"
            content = "Counted from the function's log lines (`${local.function_log_filter}`). Deliveries, not findings: a redelivered finding counts again. Alerts: *containment action failed*, *blast-radius budget exceeded*. See docs/deploy.md, \"Metrics and alerts\"."
          }
        },
      ]
    }
  })

  depends_on = [google_project_service.host]
}
