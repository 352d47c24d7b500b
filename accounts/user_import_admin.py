"""The admin's "Import users from CSV" page: upload a file, dry run or import, read the per-row report.

Kept apart from accounts/admin.py so the user admin gains it by one base class (UserImportAdminMixin).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from accounts.user_import import IMPORT_PERMISSIONS, MAX_IMPORT_BYTES, ImportNotAllowed, users_import
from core.errors import ParleyError


class UserImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, comma separated; columns username, email, name, department, title, groups "
        "(separated by ;) and optionally active (yes/no).",
    )
    dry_run = forms.BooleanField(
        label="Dry run",
        required=False,
        initial=True,
        help_text="Check the file and report what would happen; write nothing. Untick to import.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:  # refused before reading it into memory
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
        return upload


class UserImportAdminMixin:
    """Adds the import page to a ModelAdmin of User; the change list template links to it."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="accounts_user_import"), *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perms(IMPORT_PERMISSIONS):
            raise PermissionDenied
        report = None
        form = UserImportForm(request.POST, request.FILES) if request.method == "POST" else UserImportForm()
        if form.is_bound and form.is_valid():
            try:
                report = users_import(
                    data=form.cleaned_data["file"].read(), dry_run=form.cleaned_data["dry_run"], actor=request.user
                )
            except ImportNotAllowed:
                raise PermissionDenied from None
            except ParleyError as error:  # the file cannot be read, or users changed meanwhile
                form.add_error("file", error.message)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import users from CSV",
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/accounts/user/import.html", context)
