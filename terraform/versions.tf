terraform {
  # strcontains() in variable validation needs 1.5.
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # The SCC v2 notification-config resources and build_config.service_account need 6.x.
      version = ">= 6.10.0, < 8.0.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  # The SCC and Resource Manager APIs want a quota project when called with
  # user credentials (gcloud auth application-default login).
  user_project_override = true
  billing_project       = var.project_id
}
