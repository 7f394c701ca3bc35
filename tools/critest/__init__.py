"""Run the CRI validation suite (critest) against each provisioned runtime on a fresh VM."""
