"""Who owns a conversation: signed-in users, the single local user, or a token in the URL."""

from qwenchat import identity


def test_a_visitor_without_a_token_gets_a_fresh_128_bit_one():
    first = identity.owner_for()
    second = identity.owner_for()
    assert first.url_token != second.url_token and first.id != second.id
    assert identity.looks_like_id(first.url_token) and len(first.url_token) >= 22


def test_the_same_token_is_the_same_owner_and_the_store_never_sees_the_token():
    token = identity.owner_for().url_token
    owner = identity.owner_for(url_token=token)
    assert owner.url_token == token and owner.id == identity.owner_for(url_token=token).id
    assert token not in owner.id


def test_a_malformed_token_is_replaced_not_trusted():
    for bad in ("", "abc", "../../etc", "x" * 200, "<script>", "a b c d e f g h i j k l m n o p"):
        owner = identity.owner_for(url_token=bad)
        assert owner.url_token != bad and identity.looks_like_id(owner.url_token)


def test_signed_in_users_and_single_user_mode_need_no_token():
    assert identity.owner_for(signed_in_email="A@x.org", url_token="t" * 22) == identity.Owner("user:a@x.org", "", "signed_in")
    assert identity.owner_for(single_user=True).id == "local"


def test_storage_settings(tmp_path):
    options = identity.storage_options({}, {"QWENCHAT_DB": str(tmp_path / "c.db"), "QWENCHAT_SAVE": "0"})
    assert options.path == str(tmp_path / "c.db") and not options.saving
    assert identity.storage_options({"QWENCHAT_SAVE": "true"}, {}).saving
    assert identity.single_user({}, {"QWENCHAT_SINGLE_USER": "1"})
    assert not identity.single_user({}, {})
