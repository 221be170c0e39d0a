from __future__ import annotations

import socket
from pathlib import Path

import elasticsearch
import pytest
from pytest_elasticsearch.executor import NoopElasticsearch

import esnode
from failover_verify import ConfigurationError, ConnectionSettings, FailoverVerifyError, connect

PASSWORD = "hunter2-never-shown"  # noqa: S105  (made up, to prove it is never shown)
API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


class TestConnectionSettings:
    def test_url_is_enough(self) -> None:
        """A plain https URL is accepted as it is."""
        settings = ConnectionSettings.build(url="https://es.example.com:9243")
        assert settings.url == "https://es.example.com:9243"

    def test_needs_url_or_cloud_id(self) -> None:
        """Settings with neither a URL nor a cloud id are refused."""
        with pytest.raises(ConfigurationError, match="exactly one of"):
            ConnectionSettings.build()

    def test_refuses_url_and_cloud_id(self) -> None:
        """Settings with both a URL and a cloud id are refused."""
        with pytest.raises(ConfigurationError, match="exactly one of"):
            ConnectionSettings.build(url="https://es.example.com", cloud_id="name:abc")

    @pytest.mark.parametrize(
        "url", ["es.example.com:9243", "ftp://es.example.com", "https://", "localhost"]
    )
    def test_refuses_url_without_scheme_or_host(self, url: str) -> None:
        """A URL that is not http(s) with a host is refused with an example of a good one."""
        with pytest.raises(ConfigurationError, match="not an http\\(s\\) URL") as caught:
            ConnectionSettings.build(url=url)
        assert "https://es.example.com:9243" in str(caught.value)

    def test_refuses_credentials_in_url(self) -> None:
        """Credentials in the URL are refused, and the message does not repeat them."""
        with pytest.raises(ConfigurationError, match="must not carry credentials") as caught:
            ConnectionSettings.build(url=f"https://elastic:{PASSWORD}@es.example.com")
        assert PASSWORD not in str(caught.value)

    def test_bad_url_with_credentials_is_redacted(self) -> None:
        """A malformed URL that carries a password is quoted with the password masked."""
        with pytest.raises(ConfigurationError) as caught:
            ConnectionSettings.build(url=f"ftp://elastic:{PASSWORD}@es.example.com")
        assert PASSWORD not in str(caught.value)
        assert "***@es.example.com" in str(caught.value)

    def test_missing_ca_file(self, tmp_path: Path) -> None:
        """A CA certificates file that does not exist is refused, naming the path."""
        missing = tmp_path / "ca.pem"
        with pytest.raises(ConfigurationError, match="does not exist") as caught:
            ConnectionSettings.build(url="https://es.example.com", ca_certs=missing)
        assert str(missing) in str(caught.value)

    def test_refuses_api_key_with_basic_auth(self) -> None:
        """An API key and a username/password together are refused."""
        with pytest.raises(ConfigurationError, match="either an API key or a username"):
            ConnectionSettings.build(
                url="https://es.example.com", api_key=API_KEY, username="u", password=PASSWORD
            )

    def test_basic_auth_needs_both_parts(self) -> None:
        """A username without a password is refused."""
        with pytest.raises(ConfigurationError, match="both a username and a password"):
            ConnectionSettings.build(url="https://es.example.com", username="elastic")

    @pytest.mark.parametrize(
        ("credentials", "secret"),
        [
            ({"api_key": API_KEY}, API_KEY),
            ({"username": "elastic", "password": PASSWORD}, PASSWORD),
        ],
        ids=["api_key", "password"],
    )
    def test_secrets_never_shown(self, credentials: dict[str, str], secret: str) -> None:
        """Neither repr, str nor the JSON dump of the settings contains a secret."""
        settings = ConnectionSettings.build(url="https://es.example.com", **credentials)
        for shown in (repr(settings), str(settings), settings.model_dump_json()):
            assert secret not in shown

    def test_verifies_certificates_by_default(self) -> None:
        """TLS certificates are verified unless turned off on purpose."""
        assert ConnectionSettings.build(url="https://es.example.com").verify_certs is True

    def test_errors_share_the_root(self) -> None:
        """Configuration errors can be caught as the package's root error."""
        with pytest.raises(FailoverVerifyError):
            ConnectionSettings.build(url="nope")


class TestFromEnv:
    def test_url_and_api_key(self) -> None:
        """ES_URL and ES_API_KEY make settings; the key is held as a secret."""
        settings = ConnectionSettings.from_env(
            {"ES_URL": "https://es.example.com:9243", "ES_API_KEY": API_KEY}
        )
        assert settings.url == "https://es.example.com:9243"
        assert settings.api_key is not None
        assert settings.api_key.get_secret_value() == API_KEY
        assert (settings.username, settings.password, settings.cloud_id) == (None, None, None)

    def test_basic_auth(self) -> None:
        """ES_USERNAME and ES_PASSWORD give basic auth."""
        settings = ConnectionSettings.from_env(
            {"ES_URL": "http://localhost:9200", "ES_USERNAME": "elastic", "ES_PASSWORD": PASSWORD}
        )
        assert settings.username == "elastic"
        assert settings.password is not None
        assert settings.password.get_secret_value() == PASSWORD

    def test_cloud_id_and_ca_file(self, tmp_path: Path) -> None:
        """ES_CLOUD_ID replaces the URL; ES_CA_CERTS names a CA bundle that must exist."""
        ca = tmp_path / "ca.pem"
        ca.write_text("-----BEGIN CERTIFICATE-----\n")
        settings = ConnectionSettings.from_env(
            {"ES_CLOUD_ID": "cluster:abc", "ES_CA_CERTS": str(ca)}
        )
        assert (settings.cloud_id, settings.url, settings.ca_certs) == ("cluster:abc", None, ca)
        with pytest.raises(ConfigurationError, match="does not exist"):
            ConnectionSettings.from_env(
                {"ES_URL": "https://x.example", "ES_CA_CERTS": str(tmp_path / "missing.pem")}
            )

    def test_api_key_file(self, tmp_path: Path) -> None:
        """ES_API_KEY_FILE (or api_key_file=) reads the key from a file, stripped."""
        key = tmp_path / "key"
        key.write_text(f"{API_KEY}\n")
        from_env = ConnectionSettings.from_env(
            {"ES_URL": "https://x.example", "ES_API_KEY_FILE": str(key)}
        )
        from_argument = ConnectionSettings.from_env(
            {"ES_URL": "https://x.example"}, api_key_file=key
        )
        for settings in (from_env, from_argument):
            assert settings.api_key is not None
            assert settings.api_key.get_secret_value() == API_KEY
        key.write_text("")
        with pytest.raises(ConfigurationError, match="is empty"):
            ConnectionSettings.from_env(
                {"ES_URL": "https://x.example", "ES_API_KEY_FILE": str(key)}
            )

    def test_overrides_win_and_empty_is_unset(self) -> None:
        """Arguments win over the environment; empty variables count as unset."""
        settings = ConnectionSettings.from_env(
            {"ES_URL": "https://env.example", "ES_CLOUD_ID": "", "ES_API_KEY": " "},
            url="https://argument.example",
            request_timeout=5,
        )
        assert (settings.url, settings.api_key, settings.request_timeout) == (
            "https://argument.example",
            None,
            5.0,
        )

    def test_reads_the_process_environment_only_when_asked(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a mapping, from_env reads os.environ at the call."""
        monkeypatch.setenv("ES_URL", "https://process.example")
        monkeypatch.delenv("ES_CLOUD_ID", raising=False)
        assert ConnectionSettings.from_env().url == "https://process.example"

    def test_nothing_set(self) -> None:
        """No URL or cloud id anywhere is a ConfigurationError saying what to give."""
        with pytest.raises(ConfigurationError, match="exactly one of an Elasticsearch URL"):
            ConnectionSettings.from_env({})

    def test_unknown_setting(self) -> None:
        """A misspelt override is refused, naming the known settings."""
        with pytest.raises(ConfigurationError, match="unknown setting api_kee="):
            ConnectionSettings.from_env({"ES_URL": "https://x.example"}, api_kee="x")

    @pytest.mark.parametrize(
        "env",
        [
            {"ES_URL": "https://x.example", "ES_API_KEY": API_KEY},
            {"ES_URL": "https://x.example", "ES_USERNAME": "elastic", "ES_PASSWORD": PASSWORD},
        ],
    )
    def test_secrets_never_in_repr_or_str(self, env: dict[str, str]) -> None:
        """repr, str and the JSON dump of settings from the environment hold no secret."""
        settings = ConnectionSettings.from_env(env)
        shown = [repr(settings), str(settings), settings.model_dump_json()]
        for text in shown:
            assert API_KEY not in text
            assert PASSWORD not in text
        assert repr(settings) in (
            "<ConnectionSettings https://x.example with API key>",
            "<ConnectionSettings https://x.example with basic auth>",
        )

    def test_connects_from_env(self, es_url: str) -> None:
        """A notebook's one line: connect(ConnectionSettings.from_env()) talks to the node."""
        client = connect(ConnectionSettings.from_env({"ES_URL": es_url}))
        with client:
            assert client.cluster.health()["status"] in ("green", "yellow")


class TestConnect:
    def test_round_trip(self, es_node: NoopElasticsearch, es_index: str) -> None:
        """A document indexed through a connected client reads back unchanged."""
        client = connect(ConnectionSettings.build(url=f"http://{es_node.host}:{es_node.port}"))
        document = {"json": {"jsonPayload": {"message": "code completion input:"}}}
        with client:
            client.index(index=f"{es_index}-logs", id="1", document=document, refresh=True)
            assert client.get(index=f"{es_index}-logs", id="1")["_source"] == document
            hits = client.search(index=f"{es_index}-*", query={"match_all": {}})["hits"]
        assert hits["total"]["value"] == 1

    def test_connect_sends_nothing(self) -> None:
        """connect only builds the client: nothing reaches the server until the first request."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            server.bind(("127.0.0.1", 0))
            server.listen(1)
            server.setblocking(False)
            client = connect(
                ConnectionSettings.build(url=f"http://127.0.0.1:{server.getsockname()[1]}")
            )
            with pytest.raises(BlockingIOError):
                server.accept()
            client.close()

    def test_refused_host_fails_on_first_request(self, refused_url: str) -> None:
        """The first request to a host that refuses connections raises the client's error."""
        client = connect(ConnectionSettings.build(url=refused_url))
        with client, pytest.raises(elasticsearch.ConnectionError):
            client.cluster.health()

    def test_server_is_the_requested_line(
        self, es_client: elasticsearch.Elasticsearch, pytestconfig: pytest.Config
    ) -> None:
        """The suite talks to the server version that --es-line asked for."""
        line = esnode.server_line(str(pytestconfig.getoption("es_line")))
        nodes = es_client.nodes.info(node_id="_local", metric="_none")["nodes"]
        assert [node["version"] for node in nodes.values()] == [line.version]


class TestConnectSecure:
    def test_basic_auth_with_ca_certs(self, es_secure_client: elasticsearch.Elasticsearch) -> None:
        """Basic auth over TLS, trusting the node through ca_certs, authenticates the user."""
        assert es_secure_client.security.authenticate()["username"] == "elastic"

    def test_wrong_password_is_refused(self, es_secure_server: esnode.Node) -> None:
        """A wrong password gets an authentication error, not a connection error."""
        client = connect(
            ConnectionSettings.build(
                url=es_secure_server.url,
                username="elastic",
                password="not-the-password",  # noqa: S106  (deliberately wrong)
                ca_certs=es_secure_server.ca_certs,
            )
        )
        with client, pytest.raises(elasticsearch.AuthenticationException):
            client.cluster.health()

    def test_api_key_is_sent(self, es_secure_server: esnode.Node) -> None:
        """An API key reaches the server as API key credentials."""
        # The minimal distribution cannot create the security index (it lacks the
        # analysis-common module), so no real key can be minted; the server's verdict on an
        # unknown key still shows the key was sent as an API key.
        client = connect(
            ConnectionSettings.build(
                url=es_secure_server.url, api_key=API_KEY, ca_certs=es_secure_server.ca_certs
            )
        )
        with client, pytest.raises(elasticsearch.AuthenticationException) as caught:
            client.cluster.health()
        assert "API key" in str(caught.value.body)

    def test_tls_verification_is_on_by_default(self, es_secure_server: esnode.Node) -> None:
        """Without ca_certs, a node with a certificate from an unknown CA is not trusted."""
        assert es_secure_server.password is not None
        client = connect(
            ConnectionSettings.build(
                url=es_secure_server.url,
                username="elastic",
                password=es_secure_server.password,
            )
        )
        with client, pytest.raises(elasticsearch.SSLError):
            client.cluster.health()

    def test_verification_can_be_turned_off(self, es_secure_server: esnode.Node) -> None:
        """With verify_certs off on purpose, the self-signed node is reached."""
        assert es_secure_server.password is not None
        client = connect(
            ConnectionSettings.build(
                url=es_secure_server.url,
                username="elastic",
                password=es_secure_server.password,
                verify_certs=False,
            )
        )
        with client:
            assert client.security.authenticate()["username"] == "elastic"
