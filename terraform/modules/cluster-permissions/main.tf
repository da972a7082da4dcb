# What the responder may do on the GKE clusters in scope, computed once from
# enabled_actions: the Google IAM permissions (container.*) for the custom role,
# and the same grant as Kubernetes RBAC, rendered as ClusterRole manifests.
#
# Both come from permissions.json, which scripts/permissions.ts generates from
# the RBAC needs each src/actions/ file declares (a test fails when the file and
# the code disagree). No providers and no resources: the root module makes the
# role and outputs the manifests, and the tests evaluate this module with
# `terraform console` offline.
#
# GKE authorises a request if IAM *or* in-cluster RBAC allows it. With
# `grant_via_iam = false` IAM grants only what the function needs to reach the
# API server, and the rendered ClusterRole, applied cluster by cluster, grants
# the rest.

variable "enabled_actions" {
  description = "Actions the policy may run (src/core/policy/policy.ts ACTION_ORDER)."
  type        = list(string)

  validation {
    # A literal list: variable validation cannot read permissions.json before
    # Terraform 1.9 (the tests check it names exactly the actions the file has).
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

variable "service_account_email" {
  description = "The function's Google service account: the subject the ClusterRoleBindings name (GKE maps a Google service account to a Kubernetes User named by its email)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9-]+\\.iam\\.gserviceaccount\\.com$", var.service_account_email))
    error_message = "service_account_email must be the function's service account email (NAME_PREFIX-fn@PROJECT_ID.iam.gserviceaccount.com)."
  }
}

variable "release_subjects" {
  description = "Who may run `scc-responder release` in the clusters: Kubernetes subjects ({kind = \"User\" or \"Group\", name = email}) bound to a ClusterRole of its own. Empty (the default): no release role is rendered."
  type        = list(object({ kind = string, name = string }))
  default     = []

  validation {
    condition     = alltrue([for s in var.release_subjects : contains(["User", "Group"], s.kind) && length(s.name) > 0])
    error_message = "release_subjects: each needs kind = \"User\" or \"Group\" and a name."
  }
}

variable "name" {
  description = "Name of the ClusterRoles and ClusterRoleBindings (the root module passes name_prefix)."
  type        = string
  default     = "scc-responder"
}

locals {
  declared = jsondecode(file("${path.module}/permissions.json"))

  # ---------------------------------------------------------------- IAM

  # The preflight reads run even when every action is dry-run, so they are
  # granted whatever the actions; the connect permission whatever the mode.
  iam_permissions = sort(distinct(concat(
    local.declared.connect.iam,
    var.grant_via_iam ? local.declared.preflight.iam : [],
    var.grant_via_iam ? flatten([for action in var.enabled_actions : local.declared.actions[action].iam]) : [],
  )))

  # ---------------------------------------------------------------- RBAC

  # Exec runs in the attacker's container: an action that needs it gets a
  # ClusterRole of its own, so the main role never carries pods/exec and the
  # exec role can be kept out of clusters that do not use it.
  main_needs = concat(
    local.declared.preflight.rbac,
    flatten([for action in var.enabled_actions : local.declared.actions[action].rbac if !local.declared.actions[action].separate_role]),
  )
  exec_needs = flatten([for action in var.enabled_actions : local.declared.actions[action].rbac if local.declared.actions[action].separate_role])

  # One rule per (API group, resource), verbs merged: the union of each role's needs.
  role_needs = {
    main    = local.main_needs
    exec    = local.exec_needs
    release = local.declared.release.rbac
  }
  role_rules = {
    for role, needs in local.role_needs : role => [
      for key in sort(distinct([for n in needs : "${n.apiGroup}|${n.resource}"])) : {
        apiGroups = [split("|", key)[0]]
        resources = [split("|", key)[1]]
        verbs     = sort(distinct(flatten([for n in needs : n.verbs if "${n.apiGroup}|${n.resource}" == key])))
      }
    ]
  }
  main_rules    = local.role_rules.main
  exec_rules    = local.role_rules.exec
  release_rules = local.role_rules.release

  labels = {
    "app.kubernetes.io/name"       = "scc-responder"
    "app.kubernetes.io/managed-by" = "terraform"
  }
  subjects = [{ apiGroup = "rbac.authorization.k8s.io", kind = "User", name = var.service_account_email }]
  header   = "# Rendered by terraform/modules/cluster-permissions from enabled_actions = ${jsonencode(var.enabled_actions)}.\n# Do not edit: change enabled_actions and re-run ./deploy.sh. Apply with kubectl apply -f.\n"

  cluster_role_manifest = join("---\n", [
    "${local.header}${yamlencode({
      apiVersion = "rbac.authorization.k8s.io/v1"
      kind       = "ClusterRole"
      metadata   = { name = var.name, labels = local.labels }
      rules      = local.main_rules
    })}",
    yamlencode({
      apiVersion = "rbac.authorization.k8s.io/v1"
      kind       = "ClusterRoleBinding"
      metadata   = { name = var.name, labels = local.labels }
      roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = var.name }
      subjects   = local.subjects
    }),
  ])

  exec_role_manifest = length(local.exec_rules) == 0 ? "" : join("---\n", [
    "${local.header}${yamlencode({
      apiVersion = "rbac.authorization.k8s.io/v1"
      kind       = "ClusterRole"
      metadata   = { name = "${var.name}-exec", labels = local.labels }
      rules      = local.exec_rules
    })}",
    yamlencode({
      apiVersion = "rbac.authorization.k8s.io/v1"
      kind       = "ClusterRoleBinding"
      metadata   = { name = "${var.name}-exec", labels = local.labels }
      roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "${var.name}-exec" }
      subjects   = local.subjects
    }),
  ])
}

locals {
  # Release is run by people, not the function: its role is bound only to the subjects named for it.
  release_role_manifest = length(var.release_subjects) == 0 ? "" : join("---\n", [
    "${local.header}${yamlencode({
      apiVersion = "rbac.authorization.k8s.io/v1"
      kind       = "ClusterRole"
      metadata   = { name = "${var.name}-release", labels = local.labels }
      rules      = local.release_rules
    })}",
    yamlencode({
      apiVersion = "rbac.authorization.k8s.io/v1"
      kind       = "ClusterRoleBinding"
      metadata   = { name = "${var.name}-release", labels = local.labels }
      roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "${var.name}-release" }
      subjects   = [for s in var.release_subjects : { apiGroup = "rbac.authorization.k8s.io", kind = s.kind, name = s.name }]
    }),
  ])
}

output "release_role_manifest" {
  description = "ClusterRole + ClusterRoleBinding (YAML) for `scc-responder release`, bound to release_subjects; empty when none is named."
  value       = local.release_role_manifest
}

output "permissions" {
  description = "Sorted container.* permissions for the responder's custom role."
  value       = local.iam_permissions
}

output "cluster_role_manifest" {
  description = "ClusterRole + ClusterRoleBinding (YAML) granting the preflight reads and the enabled actions, exec excepted."
  value       = local.cluster_role_manifest
}

output "exec_role_manifest" {
  description = "ClusterRole + ClusterRoleBinding (YAML) for the enabled actions that exec into the pod; empty when none is enabled."
  value       = local.exec_role_manifest
}

output "exec_role_name" {
  description = "Name of the exec ClusterRole and its binding (to delete it from clusters once no action needs it)."
  value       = "${var.name}-exec"
}
