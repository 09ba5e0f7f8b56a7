"""Evaluation: tasks as data, a harness that scores a checkpoint or an OpenAI-compatible
endpoint with standard errors, and our own tasks (``eval/tasks/``)."""
