"""core/webpush.py and `manage.py generate_vapid_key`: the VAPID key and the public half browsers are given."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command

from core.webpush import application_server_key, b64url_decode, new_vapid_private_key, vapid_private_key


def test_a_new_key_reads_back_and_its_public_half_is_an_uncompressed_p256_point():
    encoded = new_vapid_private_key()

    key = vapid_private_key(encoded)
    public = b64url_decode(application_server_key(encoded))

    assert len(b64url_decode(encoded)) == 32 and "=" not in encoded
    assert len(public) == 65 and public[0] == 4
    assert ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public) == key.public_key()


@pytest.mark.parametrize("encoded", ["", "c2hvcnQ", "!!!!", "A" * 60])
def test_anything_but_32_bytes_of_base64url_is_refused(encoded):
    with pytest.raises(ValueError):
        vapid_private_key(encoded)


def test_the_command_prints_a_key_the_settings_accept(capsys):
    call_command("generate_vapid_key")

    out, err = capsys.readouterr()
    assert vapid_private_key(out.strip())
    assert application_server_key(out.strip()) in err
