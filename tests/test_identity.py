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


# --- minted owner tokens (issue 9 item 4) ----------------------------------------------------------

SECRET = b"s" * 32
OTHER_SECRET = b"t" * 32


def test_a_chosen_well_formed_token_is_not_accepted():
    foreign = identity.mint_token(OTHER_SECRET)
    for chosen in ("A" * 22, "attacker-knows-this-token", "x" * 44, "Z" * 64, foreign):
        owner = identity.owner_for(url_token=chosen, secret=SECRET)
        assert owner.url_token != chosen and owner.token_rejected
        assert identity.is_minted(owner.url_token, SECRET)


def test_a_minted_token_round_trips_to_the_same_owner():
    first = identity.owner_for(secret=SECRET)
    assert not first.token_rejected and identity.looks_like_id(first.url_token)
    again = identity.owner_for(url_token=first.url_token, secret=SECRET)
    assert again == first and not again.token_rejected


def test_changing_any_one_character_of_a_minted_token_is_rejected():
    token = identity.mint_token(SECRET)
    for i in range(len(token)):
        replacement = "A" if token[i] != "A" else "B"
        tampered = token[:i] + replacement + token[i + 1:]
        assert not identity.is_minted(tampered, SECRET), i
        assert identity.owner_for(url_token=tampered, secret=SECRET).token_rejected


def test_two_servers_do_not_accept_each_others_tokens():
    mine, theirs = identity.mint_token(SECRET), identity.mint_token(OTHER_SECRET)
    assert identity.is_minted(mine, SECRET) and not identity.is_minted(mine, OTHER_SECRET)
    assert identity.owner_for(url_token=theirs, secret=SECRET).token_rejected


def test_no_token_in_the_url_is_not_a_rejection():
    assert not identity.owner_for(url_token="", secret=SECRET).token_rejected


def test_the_secret_file_is_created_once_private_and_read_back(tmp_path):
    db = tmp_path / "data" / "chats.db"
    first = identity.server_secret(db)
    path = tmp_path / "data" / "chats.db.secret"
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    identity._known.clear()
    assert identity.server_secret(db) == first and len(first) >= 32
    assert [p.name for p in path.parent.iterdir()] == ["chats.db.secret"]  # no temporary file left


def test_processes_starting_together_agree_on_one_secret(tmp_path):
    import threading

    results, db = [], tmp_path / "chats.db"

    def read():
        results.append(identity.server_secret(db))

    identity._known.clear()
    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1


def test_the_secret_setting_wins_and_an_unwritable_folder_falls_back_without_raising(tmp_path):
    options = identity.StorageOptions(str(tmp_path / "chats.db"), True)
    assert identity.secret_for({"QWENCHAT_SECRET": "from-secrets"}, {}, options) == b"from-secrets"
    assert identity.secret_for({}, {"QWENCHAT_SECRET": "from-env"}, options) == b"from-env"
    assert identity.secret_for({}, {}, options) == identity.server_secret(tmp_path / "chats.db")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    unusable = identity.StorageOptions(str(blocker / "chats.db"), True)  # a folder under a regular file
    secret = identity.secret_for({}, {}, unusable)
    assert len(secret) == 32 and identity.secret_for({}, {}, unusable) == secret
    memory = identity.StorageOptions(str(tmp_path / "memory.db"), False)
    assert len(identity.secret_for({}, {}, memory)) == 32
    assert not (tmp_path / "memory.db.secret").exists()
