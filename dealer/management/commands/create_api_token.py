from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from crm.models import Client
from dealer.roles import API_CLIENT


class Command(BaseCommand):
    help = "Print the API token of a client (CLIENT_CODE) or a person (--user USERNAME); --rotate makes a new one."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("client_code", nargs="?")
        parser.add_argument("--user", dest="username")
        parser.add_argument("--rotate", action="store_true")

    @transaction.atomic
    def handle(self, *args: Any, **opts: Any) -> None:
        code, username = opts["client_code"], opts["username"]
        if bool(code) == bool(username):
            raise CommandError("Give either a CLIENT_CODE or --user USERNAME.")
        if code:
            client = Client.objects.select_for_update().filter(code=code).first()
            if client is None:
                raise CommandError(f"No client with code {code!r}.")
            if client.user_id is None:
                user = User.objects.filter(username=code).first() or User.objects.create_user(username=code)
                client.user = user
                client.save(update_fields=["user"])
            user = client.user
            user.groups.add(Group.objects.get_or_create(name=API_CLIENT)[0])
        else:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user {username!r}.")
        if opts["rotate"]:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
