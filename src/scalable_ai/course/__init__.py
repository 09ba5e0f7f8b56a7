"""The course platform: the syllabus's rules as code, over a real database, with a JSON API,
web pages and a CLI. ``policy`` holds the pure rules; everything else does I/O around them."""
