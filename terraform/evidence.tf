# Optional evidence bucket: one bundle per handled finding. Write-once in
# practice: the function may create and read objects, never delete them, and
# the retention policy stops anyone deleting or replacing one before it ends.
#
# No Object Versioning: Cloud Storage refuses it on a bucket with a retention
# policy (and the policy already keeps every object). Not locked either: a
# locked policy can never be shortened or removed; lock it yourself
# (gcloud storage buckets update --lock-retention-period) once the period is
# settled.
#
# Destroy: a bucket that holds objects under retention cannot be deleted, even
# with force_destroy, so `deploy.sh --destroy` takes it out of the state first
# and leaves it, with its evidence, in place (docs/deploy.md, "Destroy").

resource "google_storage_bucket" "evidence" {
  count = var.evidence_bucket != "" && var.create_evidence_bucket ? 1 : 0

  project                     = var.project_id
  name                        = var.evidence_bucket
  location                    = var.region
  labels                      = local.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  retention_policy {
    retention_period = var.evidence_retention_days * 86400
  }

  depends_on = [google_project_service.host]
}

locals {
  evidence_roles = var.evidence_bucket == "" ? toset([]) : toset([
    "roles/storage.objectCreator", # write evidence bundles
    "roles/storage.objectViewer",  # read back a bundle when a redelivered finding resumes
  ])
}

resource "google_storage_bucket_iam_member" "function_evidence" {
  for_each = local.evidence_roles

  bucket = var.create_evidence_bucket ? google_storage_bucket.evidence[0].name : var.evidence_bucket
  role   = each.value # the evidence bucket only; see evidence_roles for why each
  member = "serviceAccount:${google_service_account.function.email}"
}
