"""Back-testing: how well a ruleset ranks leads whose outcome (converted or not) is known."""
