"""The rule editor's pure parts: forms as a view of the rule-set document (rules.ruleset.schema
stays its one definition), readable differences between versions, and the written collection
policy generated from a rule set."""
