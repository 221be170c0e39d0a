"""Credentials never show: not in output, JSON, logs, exception messages, reprs or links."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from esdata import completions, index_documents
from failover_verify import ConnectionSettings, RequestRejected, Verifier, connect, parse_window
from failover_verify._cli import main
from faultproxy import Fault, FaultProxy

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
# Planted credentials; the API key is base64 of "PlantedKeyId:planted-secret-api-key".
API_KEY = "UGxhbnRlZEtleUlkOnBsYW50ZWQtc2VjcmV0LWFwaS1rZXk="
PASSWORD = "planted-secret-password-7731"  # noqa: S105
FORMS = [
    API_KEY,
    "planted-secret-api-key",
    PASSWORD,
    base64.b64encode(f"elastic:{PASSWORD}".encode()).decode(),
]


@pytest.fixture
def proxy(es_url: str) -> Iterator[FaultProxy]:
    started = FaultProxy(es_url).start()
    yield started
    started.stop()


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text


def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, env=env, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


class TestPlantedSecrets:
    @pytest.mark.parametrize(
        "env",
        [{"ES_API_KEY": API_KEY}, {"ES_USERNAME": "elastic", "ES_PASSWORD": PASSWORD}],
        ids=["api-key", "basic-auth"],
    )
    def test_server_echoing_credentials(
        self, proxy: FaultProxy, env: dict[str, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A server that echoes the request's headers in its errors never makes them visible."""
        proxy.rule = lambda _m, _p: Fault(status=400, echo_headers=True)
        caplog.set_level(logging.DEBUG)
        outputs = []
        for argv in (["status"], ["status", "--json"], ["--debug", "status"]):
            code, out, err = _run([*argv, "--retries", "0"], {"ES_URL": proxy.url, **env})
            assert code == 4
            assert "headers" in err  # the echoed text did reach the message, scrubbed
            outputs += [out, err]
        _assert_clean(*outputs, caplog.text)

    def test_401_and_success_paths(
        self,
        proxy: FaultProxy,
        es_client: Elasticsearch,
        es_index: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Refused credentials, a normal report, JSON, watch, export and link stay clean."""
        index_documents(es_client, f"{es_index}-a", completions(T0, 30, 60, "failover"))
        caplog.set_level(logging.DEBUG)
        env = {"ES_URL": proxy.url, "ES_API_KEY": API_KEY}
        window = ["--since", T0.isoformat(), "--until", (T0 + timedelta(minutes=30)).isoformat()]
        outputs = []
        for argv in (
            ["status", "--index", f"{es_index}*", *window],
            ["status", "--index", f"{es_index}*", *window, "--json"],
            ["export", "--index", f"{es_index}*", *window],
            ["link", *window],
        ):
            code, out, err = _run(argv, env)
            assert code in (0, 3), err
            outputs += [out, err]
        proxy.rule = lambda _m, _p: Fault(status=401, echo_headers=True)
        code, out, err = _run(["--debug", "status", "--retries", "0"], env)
        assert code == 4
        assert "refused the credentials (401)" in err
        _assert_clean(*outputs, out, err, caplog.text)

    def test_library_messages_and_reprs(self, proxy: FaultProxy) -> None:
        """Exception messages from the library and reprs of settings hold no secret."""
        proxy.rule = lambda _m, _p: Fault(status=400, echo_headers=True)
        settings = ConnectionSettings.build(url=proxy.url, api_key=API_KEY)
        verifier = Verifier(connect(settings), index="x*", retries=0)
        with pytest.raises(RequestRejected, match="refused") as caught:
            verifier.verify(parse_window("15m"))
        _assert_clean(str(caught.value), repr(caught.value), repr(settings), str(settings))
        _assert_clean(settings.model_dump_json(), repr(verifier.reader.target))

    def test_command_line_scrubs_what_the_library_echoes(self, es_url: str) -> None:
        """A secret the library repeats (here pasted into --index) is scrubbed by the CLI."""
        env = {"ES_URL": es_url, "ES_API_KEY": API_KEY}
        for extra in ([], ["--json"]):
            code, out, err = _run(["status", "--index", f"{API_KEY}-*", *extra], env)
            assert code in (3, 4), err
            assert "***" in out + err
            _assert_clean(out, err)

    def test_secrets_not_taken_from_options(self) -> None:
        """There is no option that takes a secret on the command line."""
        for option in ("--api-key", "--password"):
            code, _, err = _run(["status", option, "x"], {})
            assert code == 2
            assert "unrecognized arguments" in err
