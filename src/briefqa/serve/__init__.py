"""The surfaces over one :class:`briefqa.BriefQA`: ``briefqa serve``'s app
(:mod:`.server`, assembling the rest), the REST API (:mod:`.rest_api`), the
OpenAI-compatible API (:mod:`.openai_api`), MCP (:mod:`.mcp_server`), the Gradio chat
(:mod:`.ui`), and the gate every request passes first (:mod:`.access`, with the logins of
:mod:`.auth`). They use the engine through the front door, as any client would.
"""
