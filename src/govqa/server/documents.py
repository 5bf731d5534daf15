"""Document endpoints: list and read reports; add and remove them as journaled jobs."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from ..engine import check_document, corpus_file
from ..serialize import DocumentJSON, DocumentSummaryJSON, document_json, document_summaries
from .models import TextDocument
from .service import Service


def router(service: Service, reads: list, writes: list) -> APIRouter:
    settings = service.settings
    app = APIRouter()  # named as the application was: the endpoints below moved here unchanged

    @app.get("/v1/documents", tags=["documents"], dependencies=reads, response_model=list[DocumentSummaryJSON])
    def documents() -> JSONResponse:
        return JSONResponse(document_summaries(service.qa.index))

    @app.get("/v1/documents/{doc_id:path}", tags=["documents"], dependencies=reads, response_model=DocumentJSON)
    def document(
        doc_id: str,
        paragraph: int | None = Query(None, ge=1, description="Also return this paragraph (1-based)."),
    ) -> JSONResponse:
        try:
            doc = service.document(doc_id)
        except KeyError as exc:
            raise HTTPException(404, f"no document {doc_id!r} in the index") from exc
        try:
            return JSONResponse(document_json(doc, paragraph))
        except IndexError as exc:
            raise HTTPException(404, str(exc)) from exc

    def accept_upload(name: str, data: bytes, replace: bool):
        """Refuse what add_document would refuse (4xx now, not a failed job later), then journal it."""
        name = check_document(name, data, max_bytes=settings.max_upload_bytes)
        existing = settings.corpus / name
        if not replace and existing.is_file() and existing.read_bytes() != data:
            raise HTTPException(
                409,
                f"{name} is already in the corpus with different content; "
                "send ?replace=true to replace it, or rename the file",
            )
        return service.journal.submit_add(name, data, replace)

    upload_body = {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                "application/json": {"schema": TextDocument.model_json_schema()},
            },
        }
    }

    @app.post("/v1/documents", tags=["documents"], dependencies=writes, status_code=202, openapi_extra=upload_body)
    async def upload(request: Request, replace: bool = Query(False, description="Replace a report of that name.")):
        """Add a report (multipart field `file`, or JSON {name, text}); it is indexed in the background."""
        name, data = await _read_upload(request, settings.max_upload_bytes)
        job = await run_in_threadpool(accept_upload, name, data, replace)
        service.worker.wake()
        return JSONResponse(_job_reply(job), status_code=202)

    @app.delete("/v1/documents/{doc_id:path}", tags=["documents"], dependencies=writes, status_code=202)
    def delete(doc_id: str) -> JSONResponse:
        """Remove a report from the corpus and the index, in the background."""
        if doc_id not in service.qa.index.metas and not corpus_file(settings.corpus, doc_id).is_file():
            raise HTTPException(404, f"no document {doc_id!r} in the index")
        job = service.journal.submit_remove(doc_id)
        service.worker.wake()
        return JSONResponse(_job_reply(job), status_code=202)

    @app.get("/v1/jobs/{job_id}", tags=["documents"], dependencies=reads)
    def job_status(job_id: str) -> dict:
        job = service.journal.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job.to_json()

    @app.get("/v1/jobs", tags=["documents"], dependencies=reads)
    def jobs(limit: int = Query(50, ge=1, le=500)) -> list[dict]:
        return [j.to_json() for j in service.journal.recent(limit)]

    return app


async def _read_upload(request: Request, limit: int) -> tuple[str, bytes]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=4)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise HTTPException(422, "send the report as the multipart field 'file'")
        data = await file.read(limit + 1)
        name = file.filename or ""
    elif content_type.startswith("application/json"):
        try:
            body = TextDocument.model_validate_json(await request.body())
        except ValueError as exc:
            raise HTTPException(422, f"expected JSON {{'name': ..., 'text': ...}}: {exc}") from exc
        name, data = body.name, body.text.encode("utf-8")
    else:
        raise HTTPException(415, "send multipart/form-data with a 'file' field, or JSON {name, text}")
    if len(data) > limit:
        raise HTTPException(413, f"the report is over the upload limit of {limit:,} bytes")
    return name, data


def _job_reply(job) -> dict:
    return {**job.to_json(), "href": f"/v1/jobs/{job.id}"}
