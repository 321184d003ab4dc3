"""A loopback stand-in for Groq's OpenAI-compatible API, used only by the Groq tests.

It answers chat completions with queued contents and transcriptions with segments computed
from the uploaded WAV's length, and records each request so tests can inspect it.
"""

from __future__ import annotations

import io
import json
import threading
import wave
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GroqStandIn:
    def __init__(self) -> None:
        self.replies: list[str] = []
        self.default_reply = "{}"  # once the queued replies are used up
        self.requests: list[dict] = []
        self.uploads: list[tuple[int, int, float]] = []  # (rate, channels, seconds)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path.endswith("/chat/completions"):
                    request = json.loads(body)
                    stand_in.requests.append(request)
                    content = (
                        stand_in.replies.pop(0) if stand_in.replies else stand_in.default_reply
                    )
                    self._send(
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "created": 0,
                            "model": request["model"],
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content},
                                }
                            ],
                            "usage": {
                                "prompt_tokens": 1,
                                "completion_tokens": 1,
                                "total_tokens": 2,
                            },
                        }
                    )
                elif self.path.endswith("/audio/transcriptions"):
                    self._send(stand_in.transcribe(self.headers["Content-Type"], body))
                else:
                    self.send_error(404)

            def _send(self, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def transcribe(self, content_type: str, body: bytes) -> dict:
        message = BytesParser(policy=default).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        audio = next(
            p
            for p in message.iter_parts()
            if p.get_param("name", header="content-disposition") == "file"
        )
        with wave.open(io.BytesIO(audio.get_payload(decode=True))) as w:
            seconds = w.getnframes() / w.getframerate()
            self.uploads.append((w.getframerate(), w.getnchannels(), seconds))
        # one segment per 10 s of uploaded audio
        segments = [
            {"id": i, "start": float(t), "end": float(min(t + 10, seconds)), "text": f" part {i}"}
            for i, t in enumerate(range(0, int(seconds), 10))
        ]
        return {
            "text": " ".join(s["text"] for s in segments),
            "segments": segments,
            "language": "en",
            "duration": seconds,
        }

    def close(self) -> None:
        self.server.shutdown()
