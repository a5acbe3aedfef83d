terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.62"
    }
  }
}

# Every resource carries var.tags (cost allocation, ownership). This directory is a root
# module (make deploy runs it); to use it as a child module instead, move this block to the
# caller and pass the tags there.
provider "aws" {
  default_tags {
    tags = var.tags
  }
}
