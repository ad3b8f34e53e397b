from bot.launch import main

main()
