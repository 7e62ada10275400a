# The asyncio networking examples (issue 4). Each is a CTest smoke test that serves real
# clients (in-process clients, and curl when it is installed) and stops by itself.
concur_example(http_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(echo_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(chat_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(scraper LINK concur_asyncio SMOKE_ARGS --urls 20 --limit 5 --delay-ms 20)
