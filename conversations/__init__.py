"""Platform-neutral core: guides, the per-user guide state machine, the onboarding service and state stores."""
