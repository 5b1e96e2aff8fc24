"""uvicorn's HTTP protocol, answering requests it cannot parse with problem+json.

A malformed request line, a bad Content-Length or a NUL in a header never reaches
the app: uvicorn's parser answers 400 itself, in plain text. Clients get the same
RFC 9457 shape (code `bad_request`) as for every other error.
"""

from __future__ import annotations

import json
import uuid

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.api.middleware import REQUEST_ID_HEADER
from service.api.problems import PROBLEM_JSON, TYPE_BASE


def bad_request_body(detail: str, request_id: str) -> bytes:
    problem = {
        "type": f"{TYPE_BASE}bad_request",
        "title": "Bad request",
        "status": 400,
        "detail": detail,
        "code": "bad_request",
        "request_id": request_id,
    }
    return json.dumps(problem).encode()


class ProblemHttpProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        request_id = f"req_{uuid.uuid4().hex}"  # the request was never parsed: a new id
        body = bad_request_body(msg, request_id)
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: " + PROBLEM_JSON.encode() + b"\r\n")
        head.append(REQUEST_ID_HEADER.encode() + b": " + request_id.encode() + b"\r\n")
        head.append(b"content-length: " + str(len(body)).encode() + b"\r\n")
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self.transport.close()
