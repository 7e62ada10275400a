# SPDX-License-Identifier: MIT
# The asyncio networking examples (issue 4). Each is a CTest smoke test that serves real
# clients (in-process clients, and curl when it is installed) and stops by itself.
concur_example(http_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(echo_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(chat_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(scraper LINK concur_asyncio SMOKE_ARGS --urls 20 --limit 5 --delay-ms 20)

# Real clients (examples/net_clients.py): ab, wrk, 10,000 keep-alive connections and malformed
# requests against http_server, then SIGINT; two `nc` clients chatting through chat_server.
# Exit status 77 = skipped (a client tool is missing, or the open-file limit is too small).
if(CONCUR_BUILD_TESTS AND EXISTS /usr/bin/python3)
  add_test(NAME example.http_server.clients
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/net_clients.py http $<TARGET_FILE:http_server>)
  add_test(NAME example.chat_server.nc
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/net_clients.py chat $<TARGET_FILE:chat_server>)
  set_tests_properties(example.http_server.clients PROPERTIES TIMEOUT 300 LABELS example SKIP_RETURN_CODE 77)
  set_tests_properties(example.chat_server.nc PROPERTIES TIMEOUT 60 LABELS example SKIP_RETURN_CODE 77)
endif()
