"""Test doubles: the fake OpenAI/Anthropic upstream (`tests.fakes.upstream`)."""
