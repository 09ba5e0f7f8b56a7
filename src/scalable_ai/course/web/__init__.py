"""The course platform's web pages (server-rendered) and the app that joins them to the API."""

from scalable_ai.course.web.app import create_app

__all__ = ["create_app"]
