# The Google IAM permissions (container.*) the responder needs on the GKE
# clusters in scope, derived from the actions that are enabled. No providers
# and no resources: the root module turns the output into a custom role, and
# the tests evaluate this module with `terraform console` offline.
#
# GKE authorises a request if IAM *or* in-cluster RBAC allows it. With
# `grant_via_iam = false` only what the function needs to reach the API server
# is granted here and the ClusterRole in terraform/k8s/clusterrole.yaml grants
# the rest, cluster by cluster.

variable "enabled_actions" {
  description = "Actions the policy may run (src/core/policy.ts ACTION_ORDER)."
  type        = list(string)

  validation {
    condition = alltrue([
      for action in var.enabled_actions : contains([
        "label-pod", "isolate-pod", "capture-process-list", "cordon-node", "evict-pod", "delete-pod",
      ], action)
    ])
    error_message = "enabled_actions: each entry must be one of label-pod, isolate-pod, capture-process-list, cordon-node, evict-pod, delete-pod."
  }

  validation {
    condition     = length(distinct(var.enabled_actions)) == length(var.enabled_actions)
    error_message = "enabled_actions: an action is listed twice."
  }
}

variable "grant_via_iam" {
  description = "true: IAM grants every Kubernetes permission the actions need. false: IAM grants only container.clusters.get and the in-cluster ClusterRole grants the rest."
  type        = bool
  default     = true
}

locals {
  # Needed whatever the actions: getCluster returns the endpoint and CA the
  # Kubernetes client connects with.
  connect = ["container.clusters.get"]

  # Read before any action (preflight checks, guards) and kept as evidence.
  # They run even when every action is dry-run, so they depend on no action.
  preflight = [
    "container.pods.get",        # the live pod: uid precondition, owner, node, opt-out annotation
    "container.pods.list",       # replica floor: ready siblings of the pod
    "container.replicaSets.get", # replica floor: the owning ReplicaSet's desired replicas
    "container.nodes.get",       # node snapshot and its container.googleapis.com/instance_id annotation
    "container.events.list",     # pod events snapshot for the summary
    "container.pods.getLogs",    # last log lines of each container before containment
  ]

  # One entry per action in src/core/policy.ts ACTION_ORDER; each src/actions/
  # file declares the same permissions as Kubernetes RBAC rules.
  action_permissions = {
    "label-pod"            = ["container.pods.update"]                                                                                                                                            # merge-patch the quarantine label
    "isolate-pod"          = ["container.networkPolicies.create", "container.networkPolicies.get", "container.networkPolicies.list", "container.networkPolicies.update", "container.pods.update"] # deny-all NetworkPolicy; read the namespace's policies (additive: an allow policy must not still select the pod); detach labels or exclude the pod
    "capture-process-list" = ["container.pods.exec"]                                                                                                                                              # one exec of a fixed argv (off by default)
    "cordon-node"          = ["container.nodes.update"]                                                                                                                                           # merge-patch spec.unschedulable
    "evict-pod"            = ["container.pods.evict"]                                                                                                                                             # policy/v1 Eviction (honours PodDisruptionBudgets)
    "delete-pod"           = ["container.pods.delete"]                                                                                                                                            # delete with a uid precondition
  }

  iam_permissions = sort(distinct(concat(
    local.connect,
    var.grant_via_iam ? local.preflight : [],
    var.grant_via_iam ? flatten([for action in var.enabled_actions : local.action_permissions[action]]) : [],
  )))
}

output "permissions" {
  description = "Sorted container.* permissions for the responder's custom role."
  value       = local.iam_permissions
}

output "action_permissions" {
  description = "Per-action permissions, for documentation."
  value       = local.action_permissions
}
