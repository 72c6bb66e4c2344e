import pytest

from poa_manager.accounts import passwords


def test_hash_is_argon2id_and_verifies_only_the_right_password():
    stored = passwords.hash_password("quiet-harbour-lantern-72")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "quiet-harbour-lantern-72")
    assert not passwords.verify_password(stored, "quiet-harbour-lantern-73")


def test_unknown_user_and_garbage_hashes_never_verify():
    assert not passwords.verify_password(None, "not-a-password-of-anyone")
    assert not passwords.verify_password("plaintext", "plaintext")


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("short", False),  # under the minimum length
        ("password1234", False),  # long enough, but a breached favourite
        ("qwertyuiop123", False),  # keyboard walk
        ("ana.nguyen@example.org", False),  # the user's own e-mail
        ("x" * 129, False),  # over the maximum length
        ("quiet-harbour-lantern-72", True),
        ("correct horse battery staple", True),
    ],
)
def test_password_policy(password, accepted):
    problems = passwords.password_problems(password, min_length=12, user_inputs=["ana.nguyen@example.org"])
    assert (problems == []) is accepted, problems
