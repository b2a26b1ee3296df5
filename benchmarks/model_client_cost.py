"""What the model client alone costs per run: the floor under the runtime's throughput (issue 3).

    .venv/bin/python benchmarks/model_client_cost.py [--tokens 20] [--calls 300]

The scripted OpenAI-compatible server (tests/support) runs in a subprocess and answers instantly
with ``--tokens`` streamed chunks; this process makes ``--calls`` sequential streaming calls and
prints the CPU it spent per call for: the raw HTTP stream (httpx, lines only), the OpenAI SDK's
stream (chunks parsed into its models), and LangChain's ChatOpenAI (what the llm node runs, with a
token callback like the node's, built by the product's ``build_chat_model``). Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = """
import sys, time
from tests.support.fake_openai import FakeOpenAI
fake = FakeOpenAI()
fake.instant(tokens=int(sys.argv[1]))
fake.start()
print(fake.port, flush=True)
while True:
    time.sleep(3600)
"""
MESSAGES = [{"role": "user", "content": "hi"}]


async def measure(name: str, calls: int, call: Any) -> None:
    for _ in range(10):  # warm-up: connections, imports, caches
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    print(f"{name:<42} {(time.process_time() - started) / calls * 1000:6.2f} ms CPU per call")


async def main(tokens: int, calls: int, base_url: str) -> None:
    import httpx
    import openai
    from langchain_core.callbacks import AsyncCallbackHandler

    from builder.llm.clients import ProviderSettings, build_chat_model
    from builder.llm.providers import ProviderKind

    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    async with httpx.AsyncClient() as http:

        async def raw() -> None:
            async with http.stream("POST", f"{base_url}/chat/completions", json=body) as response:
                async for _line in response.aiter_lines():
                    pass

        await measure("raw HTTP stream (httpx)", calls, raw)

    sdk = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)

    async def sdk_stream() -> None:
        stream = await sdk.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async for _chunk in stream:
            pass

    await measure("OpenAI SDK stream", calls, sdk_stream)

    class Tokens(AsyncCallbackHandler):
        async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:  # type: ignore[override]
            pass

    settings = ProviderSettings(
        kind=ProviderKind.OPENAI_COMPATIBLE, base_url=base_url, api_key="sk-bench", allow=("127.0.0.1",)
    )
    model = build_chat_model(settings, "gpt-4o-mini")

    async def langchain() -> None:
        await model.ainvoke("hi", config={"callbacks": [Tokens()]})

    await measure("LangChain ChatOpenAI (as the llm node)", calls, langchain)
    print(f"({tokens} streamed chunks per call, {calls} calls each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.tokens)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={"PYTHONPATH": str(ROOT)},
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        asyncio.run(main(args.tokens, args.calls, f"http://127.0.0.1:{port}/v1"))
    finally:
        server.kill()
