"""Sealing: a round trip works; a wrong key, a flipped byte or another context fails loudly."""

import pytest

from core import crypto
from core.crypto import DecryptionError, EncryptionConfigError, KeyRing, new_key_entry

OLD, NEW = new_key_entry("k1"), new_key_entry("k2")


def test_round_trip_of_text_and_bytes():
    ring = KeyRing.from_spec(NEW)

    assert crypto.unseal_text(crypto.seal_text("héllo ✓", context="c", ring=ring), context="c", ring=ring) == "héllo ✓"
    assert crypto.unseal(crypto.seal(b"\x00\xff", context="c", ring=ring), context="c", ring=ring) == b"\x00\xff"


def test_each_sealing_is_different_and_names_its_key():
    ring = KeyRing.from_spec(f"{NEW},{OLD}")

    first, second = (crypto.seal_text("same", context="c", ring=ring) for _ in range(2))

    assert first != second  # a fresh nonce every time
    assert crypto.sealed_key_id(first) == "k2"
    assert b"same" not in first


def test_a_wrong_key_fails():
    sealed = crypto.seal_text("secret", context="c", ring=KeyRing.from_spec(NEW))
    impostor = KeyRing.from_spec(new_key_entry("k2"))  # same id, different key

    with pytest.raises(DecryptionError):
        crypto.unseal_text(sealed, context="c", ring=impostor)


def test_an_unknown_key_id_fails_with_a_clear_message():
    sealed = crypto.seal_text("secret", context="c", ring=KeyRing.from_spec(OLD))

    with pytest.raises(DecryptionError, match="k1"):
        crypto.unseal_text(sealed, context="c", ring=KeyRing.from_spec(NEW))


@pytest.mark.parametrize("index", [0, 5, 20, -1])
def test_a_tampered_byte_fails(index):
    ring = KeyRing.from_spec(NEW)
    sealed = bytearray(crypto.seal_text("secret text", context="c", ring=ring))
    sealed[index] ^= 0x01

    with pytest.raises(DecryptionError):
        crypto.unseal_text(bytes(sealed), context="c", ring=ring)


def test_a_value_bound_to_another_context_fails():
    ring = KeyRing.from_spec(NEW)
    sealed = crypto.seal_text("for row 1", context="messenger.message.body:1", ring=ring)

    with pytest.raises(DecryptionError, match="body:2"):
        crypto.unseal_text(sealed, context="messenger.message.body:2", ring=ring)


def test_old_data_still_opens_after_a_new_primary_key_is_added():
    sealed = crypto.seal_text("from last year", context="c", ring=KeyRing.from_spec(OLD))

    assert crypto.unseal_text(sealed, context="c", ring=KeyRing.from_spec(f"{NEW},{OLD}")) == "from last year"


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "k1:not-base64!!", "k1:" + "QUFB", f"{NEW},{NEW}", "bad id:AAAA"],
    ids=["empty", "no-key", "not-base64", "short-key", "duplicate-id", "bad-id"],
)
def test_a_malformed_key_ring_is_refused(spec):
    with pytest.raises(EncryptionConfigError):
        KeyRing.from_spec(spec)


def test_the_generate_command_prints_a_usable_entry(capsys):
    from django.core.management import call_command

    call_command("generate_encryption_key", "k9")

    entry = capsys.readouterr().out.strip()
    assert KeyRing.from_spec(entry).primary_id == "k9"
