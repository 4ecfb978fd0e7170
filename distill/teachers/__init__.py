"""Teachers: whoever labels the training corpus (an LLM endpoint, the rule labeler, a file)."""
