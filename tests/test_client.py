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
