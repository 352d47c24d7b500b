"""Tests of the HTTP API, one file per router (messenger/api/), and helpers they share."""

import json


def post(client, path, data=None, **extra):
    return client.post(path, json.dumps(data or {}), content_type="application/json", **extra)


def photo_file(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("photo.jpg", content, content_type="image/jpeg")
