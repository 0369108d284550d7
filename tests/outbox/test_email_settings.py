"""Per-organization email settings: the password encrypted at rest, the effective server and
sender, the platform default from SMTP_URL and MAIL_FROM."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from core.models import Organization
from core.settings import Settings
from core.settings import SettingsError
from core.settings import SmtpSettings
from core.tokens import TokenCipher
from outbox.email import settings as email_settings
from outbox.email.settings import EmailNotConfigured
from tests.conftest import dunwell_env
from tests.connector.conftest import make_org

PASSWORD = "correct horse battery staple"
OWN = {
    "host": "smtp.acme.test",
    "port": 2525,
    "security": "tls",
    "username": "ar@acme.test",
    "password": PASSWORD,
    "from_name": "Acme Accounts",
    "from_address": "ar@acme.test",
    "reply_to": "accounts@acme.test",
}


def org(db, session_factory) -> Organization:
    return db.get(Organization, make_org(session_factory, "xero", "Acme Plumbing"))


def cipher(settings: Settings) -> TokenCipher:
    return TokenCipher(settings.token_encryption_keys)


def test_the_password_is_stored_encrypted(db, session_factory, settings):
    acme = org(db, session_factory)
    email_settings.save(db, acme.id, OWN, cipher(settings), "admin page")
    db.commit()
    stored = db.execute(text("SELECT password_ciphertext FROM email_settings")).scalar_one()
    assert PASSWORD not in stored and "horse" not in stored
    assert cipher(settings).decrypt(stored) == {"password": PASSWORD}
    setup = email_settings.effective(db, acme, settings)
    assert setup.smtp == SmtpSettings("smtp.acme.test", 2525, "tls", "ar@acme.test", PASSWORD)
    assert PASSWORD not in repr(setup)


def test_a_blank_password_keeps_the_stored_one_and_no_username_drops_it(
    db, session_factory, settings
):
    acme = org(db, session_factory)
    email_settings.save(db, acme.id, OWN, cipher(settings), "admin page")
    email_settings.save(db, acme.id, dict(OWN, password=""), cipher(settings), "admin page")
    assert email_settings.effective(db, acme, settings).smtp.password == PASSWORD
    email_settings.save(
        db, acme.id, dict(OWN, username="", password=""), cipher(settings), "admin page"
    )
    row = email_settings.load(db, acme.id)
    assert row.password_ciphertext == "" and not email_settings.has_password(row)


def test_own_server_sender_and_reply_to(db, session_factory, settings):
    acme = org(db, session_factory)
    email_settings.save(db, acme.id, OWN, cipher(settings), "admin page")
    setup = email_settings.effective(db, acme, settings)
    assert setup.own_server
    assert (setup.sender.name, setup.sender.address, setup.sender.reply_to) == (
        "Acme Accounts",
        "ar@acme.test",
        "accounts@acme.test",
    )
    assert email_settings.load(db, acme.id).updated_by == "admin page"


def test_the_platform_default_sends_as_the_business_from_the_platform_address(
    db, session_factory, settings
):
    acme = org(db, session_factory)
    platform = settings.with_changes(
        smtp=SmtpSettings("mail.dunwell.test", 587), mail_from="Dunwell <reminders@dunwell.test>"
    )
    setup = email_settings.effective(db, acme, platform)
    assert setup.smtp.host == "mail.dunwell.test" and not setup.own_server
    assert (setup.sender.name, setup.sender.address) == ("Acme Plumbing", "reminders@dunwell.test")
    assert setup.sender.reply_to == ""
    only_reply_to = {"reply_to": "accounts@acme.test", "from_name": ""}
    email_settings.save(db, acme.id, only_reply_to, cipher(settings), "admin page")
    setup = email_settings.effective(db, acme, platform)
    assert (setup.sender.name, setup.sender.reply_to) == ("Acme Plumbing", "accounts@acme.test")


def test_no_server_anywhere_is_not_configured(db, session_factory, settings):
    with pytest.raises(EmailNotConfigured, match="No mail server"):
        email_settings.effective(db, org(db, session_factory), settings)


def test_keys_rotate_and_a_lost_key_asks_for_the_password_again(db, session_factory, settings):
    acme = org(db, session_factory)
    email_settings.save(db, acme.id, OWN, cipher(settings), "admin page")
    rotated = settings.with_changes(
        token_encryption_keys=(Fernet.generate_key().decode(), *settings.token_encryption_keys)
    )
    assert email_settings.effective(db, acme, rotated).smtp.password == PASSWORD
    lost = settings.with_changes(token_encryption_keys=(Fernet.generate_key().decode(),))
    with pytest.raises(EmailNotConfigured, match="enter it again"):
        email_settings.effective(db, acme, lost)


def test_smtp_url_and_mail_from_from_the_environment(tmp_path):
    env = dunwell_env(
        tmp_path,
        SMTP_URL="smtp://mailer%40acme:p%40ss@mail.example.test?security=starttls&timeout=5",
        MAIL_FROM="Dunwell <reminders@dunwell.test>",
    )
    settings = Settings.from_env(env)
    assert settings.smtp == SmtpSettings(
        "mail.example.test", 587, "starttls", "mailer@acme", "p@ss", 5.0
    )
    assert "p@ss" not in repr(settings)
    assert Settings.from_env(dunwell_env(tmp_path)).smtp is None
    implicit = Settings.from_env(dunwell_env(tmp_path, SMTP_URL="smtps://h", MAIL_FROM="a@b.test"))
    assert (implicit.smtp.security, implicit.smtp.port) == ("tls", 465)


def test_bad_smtp_settings_stop_the_start_naming_each_problem(tmp_path):
    env = dunwell_env(tmp_path, SMTP_URL="smtp://u:hunter2@h?security=ssl")
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert "SMTP_URL security must be one of starttls, tls, none" in str(caught.value)
    assert "MAIL_FROM must be set with SMTP_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(SettingsError, match="SMTP_URL must look like"):
        Settings.from_env(dunwell_env(tmp_path, SMTP_URL="mail.example.test", MAIL_FROM="a@b.c"))
