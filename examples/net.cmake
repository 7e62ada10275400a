# SPDX-License-Identifier: MIT
# The asyncio networking examples (issue 4). Each is a CTest smoke test that serves real
# clients (in-process clients, and curl when it is installed) and stops by itself.
concur_example(http_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(echo_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(chat_server LINK concur_asyncio SMOKE_ARGS --smoke)
concur_example(scraper LINK concur_asyncio SMOKE_ARGS --urls 20 --limit 5 --delay-ms 20)
# The same two over HTTPS (concur::ssl), with a throwaway certificate made by the openssl command.
if(CONCUR_BUILD_TESTS)
  add_test(NAME example.http_server.tls COMMAND http_server --smoke --tls)
  add_test(NAME example.scraper.tls COMMAND scraper --urls 20 --limit 5 --delay-ms 20 --tls)
  set_tests_properties(example.http_server.tls example.scraper.tls PROPERTIES TIMEOUT 120 LABELS example)
endif()

# Real clients (examples/net_clients.py): ab, wrk, 10,000 keep-alive connections and malformed
# requests against http_server, then SIGINT; two `nc` clients chatting through chat_server;
# abusive clients against all three.
# Exit status 77 = skipped (a client tool is missing, or the open-file limit is too small).
if(CONCUR_BUILD_TESTS AND EXISTS /usr/bin/python3)
  add_test(NAME example.http_server.clients
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/net_clients.py http $<TARGET_FILE:http_server>)
  add_test(NAME example.chat_server.nc
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/net_clients.py chat $<TARGET_FILE:chat_server>)
  set_tests_properties(example.http_server.clients PROPERTIES TIMEOUT 300 LABELS example SKIP_RETURN_CODE 77)
  set_tests_properties(example.chat_server.nc PROPERTIES TIMEOUT 60 LABELS example SKIP_RETURN_CODE 77)

  # Abusive clients (plain Python sockets, nothing to install): slowloris, idle and silent
  # connections, clients that never read, the connection cap, over-long lines, --port 70000.
  foreach(server http echo chat)
    add_test(NAME example.${server}_server.abuse
      COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/net_clients.py ${server}-abuse $<TARGET_FILE:${server}_server>)
    set_tests_properties(example.${server}_server.abuse PROPERTIES TIMEOUT 120 LABELS example)
  endforeach()
endif()
