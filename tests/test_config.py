"""Where the key, URL and model come from, and the rule that keeps the operator's key at home."""

from qwenchat import config
from qwenchat.config import REGIONS, Settings, mask, resolve

OPERATOR_URL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
EVIL_URL = "https://attacker.example/v1"


def test_sidebar_key_wins_over_secrets_and_environment():
    s = resolve(sidebar_key="sk-typed", secrets={"DASHSCOPE_API_KEY": "sk-secret"},
                environ={"DASHSCOPE_API_KEY": "sk-env"})
    assert (s.api_key, s.key_source) == ("sk-typed", "sidebar")


def test_secrets_win_over_environment():
    s = resolve(secrets={"DASHSCOPE_API_KEY": "sk-secret"}, environ={"DASHSCOPE_API_KEY": "sk-env"})
    assert (s.api_key, s.key_source) == ("sk-secret", "secrets")


def test_environment_is_the_last_source_and_defaults_apply():
    s = resolve(environ={"DASHSCOPE_API_KEY": "sk-env"})
    assert (s.api_key, s.key_source) == ("sk-env", "env")
    assert s.base_url == REGIONS["beijing"] and s.model == "qwen-plus"


def test_no_key_anywhere():
    s = resolve(environ={})
    assert not s.has_key and s.key_source == ""


def test_base_url_and_model_from_environment_including_the_course_name():
    s = resolve(environ={"DASHSCOPE_API_KEY": "k", "DASHSCOPE_API_BASE": OPERATOR_URL, "QWEN_MODEL": "qwen-max"})
    assert s.base_url == OPERATOR_URL and s.model == "qwen-max"
    s = resolve(environ={"DASHSCOPE_API_KEY": "k", "DASHSCOPE_BASE_URL": OPERATOR_URL})
    assert s.base_url == OPERATOR_URL


def test_operator_key_never_goes_to_a_url_chosen_in_the_sidebar():
    for source in ({"secrets": {"DASHSCOPE_API_KEY": "sk-op"}}, {"environ": {"DASHSCOPE_API_KEY": "sk-op"}}):
        s = resolve(sidebar_base_url=EVIL_URL, **source, **({} if "environ" in source else {"environ": {}}))
        assert s.api_key == "sk-op"
        assert s.base_url == REGIONS["beijing"]


def test_operator_key_goes_to_the_operators_own_region():
    s = resolve(sidebar_base_url=EVIL_URL,
                secrets={"DASHSCOPE_API_KEY": "sk-op", "DASHSCOPE_BASE_URL": OPERATOR_URL}, environ={})
    assert s.base_url == OPERATOR_URL


def test_a_visitors_own_key_may_go_to_their_own_url():
    s = resolve(sidebar_key="sk-mine", sidebar_base_url=EVIL_URL, secrets={"DASHSCOPE_API_KEY": "sk-op"})
    assert (s.api_key, s.base_url) == ("sk-mine", EVIL_URL)


def test_the_key_is_never_in_the_settings_repr():
    s = Settings(api_key="sk-abcdefghijklmnop1234")
    assert "abcdefghijklmnop" not in repr(s) and "abcdefghijklmnop" not in str(s)
    assert mask("sk-abcdefghijklmnop1234") == "sk-…1234"


def test_dotenv_file_is_loaded_without_overriding(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("DASHSCOPE_API_KEY=sk-from-dotenv\nQWEN_MODEL=qwen-turbo\n")
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.setenv("QWEN_MODEL", "qwen-max")
    config.load_dotenv_once(str(env))
    s = resolve()
    assert s.api_key == "sk-from-dotenv" and s.model == "qwen-max"
    monkeypatch.delenv("DASHSCOPE_API_KEY")


def test_region_of_known_and_unknown_urls():
    assert config.region_of(REGIONS["us"] + "/") == "us"
    assert config.region_of("http://127.0.0.1:8000/v1") == ""


def test_a_sidebar_url_on_the_servers_own_network_is_refused():
    for url in ("http://127.0.0.1:8080/v1", "https://127.0.0.1/v1", "https://10.0.0.5/v1", "https://[::1]/v1",
                "https://169.254.169.254/latest", "https://192.168.1.1/v1", "ftp://example.org", "not a url",
                "https://localhost/v1"):
        assert config.url_problem(url), url
    assert config.url_problem("https://8.8.8.8/compatible-mode/v1") == ""
    assert config.url_problem("http://127.0.0.1:8080/v1", allow_private=True) == ""
    assert config.url_problem("file:///etc/passwd", allow_private=True)


def test_url_problems_and_region_labels_are_catalog_ids():
    from qwenchat.i18n import MESSAGES

    problems = {config.url_problem(url) for url in ("not a url", "ftp://example.org", "http://example.org/v1",
                                                    "https://127.0.0.1/v1", "https://a:99999/v1", "https:///v1")}
    assert problems and all(problem in MESSAGES for problem in problems), problems
    assert all(label in MESSAGES for label in config.REGION_LABELS.values())
