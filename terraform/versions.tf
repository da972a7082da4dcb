terraform {
  # strcontains() in variable validation needs 1.5.
  required_version = ">= 1.5.0"

  # Pin what `terraform init` picks with the lock file, .terraform.lock.hcl, committed
  # next to this file (docs/deploy.md, "Provider lock file"): without it each
  # machine resolves these ranges on its own and can plan with another provider.
  required_providers {
    google = {
      source = "hashicorp/google"
      # The SCC v2 notification-config resources and build_config.service_account need 6.x.
      version = ">= 6.10.0, < 8.0.0"
    }
    # google_project_service_identity (the Pub/Sub service agent) exists only in the beta provider.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.10.0, < 8.0.0"
    }
    # time_sleep: new IAM grants take a minute to reach Cloud Build.
    time = {
      source  = "hashicorp/time"
      version = ">= 0.9.0, < 1.0.0"
    }
  }
}

# Every API call is billed to, and checked against the enabled APIs of, the host
# project (user_project_override): user credentials from
# `gcloud auth application-default login` have no quota project of their own.
# That is why deploy.sh enables Service Usage and Resource Manager in the host
# project before the first plan: Terraform needs both to enable anything else.
provider "google" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id
}

provider "google-beta" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id
}
