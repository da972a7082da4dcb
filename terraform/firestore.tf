# The response ledger: one document per finding records what was done, so a
# redelivered finding does nothing twice, and counts removals for the
# blast-radius budget. Old entries expire through a TTL policy.

resource "google_firestore_database" "ledger" {
  project     = var.project_id
  name        = var.firestore_database
  location_id = var.firestore_location != "" ? var.firestore_location : var.region
  type        = "FIRESTORE_NATIVE"
  # An audit trail of containment actions: keep it through an accidental destroy.
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"

  depends_on = [google_project_service.host]
}

# Firestore deletes a ledger document some time after its expireAt timestamp.
resource "google_firestore_field" "ledger_ttl" {
  project    = var.project_id
  database   = google_firestore_database.ledger.name
  collection = var.ledger_collection
  field      = "expireAt"

  ttl_config {}

  # No single-field index on a monotonically increasing timestamp that is
  # never queried: it only adds write hot-spotting.
  index_config {}
}
