"""GitHub: the API client the Action and the org scan share, the PR comment, the Action."""
