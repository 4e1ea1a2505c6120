# A chart with the layout mistakes small models make: run `vsdpo inspect` on it.
import matplotlib.pyplot as plt
import numpy as np

cities = ["Amsterdam", "Barcelona", "Copenhagen", "Dubrovnik", "Edinburgh", "Florence",
          "Gothenburg", "Helsinki", "Istanbul", "Jerusalem", "Krakow", "Lisbon"]
visitors = np.array([8.2, 9.1, 3.4, 1.6, 2.9, 5.0, 1.1, 2.3, 14.7, 3.8, 3.1, 4.9])
nights = visitors * 2.4

fig, ax = plt.subplots(figsize=(6.4, 4.0))
ax.bar(cities, visitors, color="#4C72B0", label="Visitors (millions)")
ax.plot(cities, nights, color="#DD8452", marker="o", label="Nights (millions)")
ax.set_xticks(range(len(cities)), cities, fontsize=12)
ax.set_ylabel("Millions")
ax.set_title("European city tourism, 2024: visitors and nights", fontsize=15, y=1.12)
ax.legend(loc="center")
ax.text(5, 30, "Source: survey", color="#f4f4f4")
plt.savefig("tourism.png")
